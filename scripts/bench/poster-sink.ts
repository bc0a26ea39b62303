import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "./worker.js";

/**
 * A bare @connections stand-in for the poster comparison: answers every POST 200 once its body
 * is read, keeping connections alive. Nothing else, so the posters' costs are all that differ.
 */

let server: Server | undefined;

serve({
  async start() {
    const sink = createServer((request, response) => {
      request.resume();
      request.on("end", () => response.writeHead(200).end());
    });
    sink.keepAliveTimeout = 120_000;
    server = sink;
    await new Promise<void>((resolve) => sink.listen(0, "127.0.0.1", resolve));
    return { endpoint: `http://127.0.0.1:${(sink.address() as AddressInfo).port}/local` };
  },
  async stop() {
    server?.closeAllConnections();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    return {};
  },
});
