import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { PassThrough, Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { runTerminalSession } from "./terminal-session.js";

let server: Server;
let url: string;
/** Echo replies wait for this: a late reply, sent only once the session's input has ended. */
let repliesAfter: Promise<unknown> = Promise.resolve();

beforeAll(async () => {
  server = createServer();
  const wss = new WebSocketServer({ server });
  wss.on("connection", (socket) => {
    socket.send("welcome");
    socket.on("message", (data) => {
      const text = String(data);
      if (text === "leave") socket.close(1001, "Going away");
      // A late reply: the session must wait for it.
      else void repliesAfter.then(() => socket.send(`echo:${text}`));
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => {
  server.closeAllConnections();
  server.close();
});

function collect() {
  const stream = new PassThrough();
  let text = "";
  stream.on("data", (chunk: Buffer) => {
    text += chunk.toString("utf8");
  });
  return { stream, text: () => text };
}

describe("runTerminalSession with once", () => {
  it("sends each input line, prints every reply, then closes and exits 0", async () => {
    const output = collect();
    const status = collect();
    const input = Readable.from(["one\n", "\n", "two\n"]);
    repliesAfter = once(input, "end");
    const code = await runTerminalSession({
      url,
      input,
      output: output.stream,
      status: status.stream,
      once: true,
      quietMs: 300,
      timeoutMs: 5000,
    });
    expect(code).toBe(0);
    expect(output.text()).toBe("welcome\necho:one\necho:two\n");
    expect(status.text()).toMatch(
      /^Connected to ws:\/\/127\.0\.0\.1:\d+ in .* ms\.\nClosed \(code 1000, "done"\)\.\n$/,
    );
  });

  it("exits 1 and says so when the stage closes the connection", async () => {
    const status = collect();
    const code = await runTerminalSession({
      url,
      input: Readable.from(["leave\n"]),
      output: collect().stream,
      status: status.stream,
      once: true,
      quietMs: 2000,
      timeoutMs: 5000,
    });
    expect(code).toBe(1);
    expect(status.text()).toContain('The stage closed the connection (code 1001, "Going away").');
  });

  it("prefixes frames for people when asked", async () => {
    const output = collect();
    await runTerminalSession({
      url,
      input: Readable.from([]),
      output: output.stream,
      status: collect().stream,
      once: true,
      quietMs: 200,
      timeoutMs: 5000,
      prefix: true,
    });
    expect(output.text()).toBe("< welcome\n");
  });
});
