import { WebSocket } from "ws";
import { Receipts } from "./receipts.js";
import { emit, serve, wallClock } from "./worker.js";

/**
 * The bench's clients, in a process of their own: opens WebSocket connections (to the local stage
 * or to the raw `ws` server), records every frame each one receives, and reports the moment a
 * message has reached every client of a channel.
 */

interface Channel {
  readonly sockets: WebSocket[];
  readonly receipts: Receipts;
}

const channels = new Map<string, Channel>();

function connect(url: string, onFrame: (frame: string) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    socket.on("message", (data) => onFrame(data.toString()));
    socket.once("open", () => resolve(socket));
    socket.once("unexpected-response", (_request, response) =>
      reject(new Error(`handshake refused with HTTP ${response.statusCode}`)),
    );
    socket.once("error", reject);
  });
}

serve({
  async open(args) {
    const channel = String(args.channel);
    const url = String(args.url);
    const count = Number(args.count);
    const concurrency = Number(args.concurrency);
    const receipts = new Receipts(count);
    const sockets: WebSocket[] = new Array(count);
    channels.set(channel, { sockets, receipts });
    let next = 0;
    const cpu = process.cpuUsage();
    const started = wallClock();
    const opener = async () => {
      while (next < count) {
        const index = next++;
        sockets[index] = await connect(url, (frame) => {
          if (receipts.record(index, frame) === count) {
            emit("arrived", { channel, frame, at: wallClock() });
          }
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, opener));
    const used = process.cpuUsage(cpu);
    // Nothing else runs in this process while it opens: its CPU is the client side of each handshake.
    return { ms: wallClock() - started, cpuMs: (used.user + used.system) / 1000 };
  },
  async audit(args) {
    const channel = channels.get(String(args.channel));
    if (channel === undefined) throw new Error(`no channel ${String(args.channel)}`);
    return { audit: channel.receipts.audit(args.seqs as number[]) };
  },
  async close(args) {
    const channel = channels.get(String(args.channel));
    if (channel === undefined) return {};
    channels.delete(String(args.channel));
    await Promise.all(
      channel.sockets.map(
        (socket) =>
          new Promise<void>((resolve) => {
            if (socket.readyState === WebSocket.CLOSED) resolve();
            else {
              socket.once("close", () => resolve());
              socket.close(1000);
            }
          }),
      ),
    );
    return {};
  },
  async stop() {
    for (const channel of channels.values())
      for (const socket of channel.sockets) socket.terminate();
    return {};
  },
});
