import { once } from "node:events";
import type { IncomingMessage } from "node:http";
import WebSocket from "ws";
import { LIMITS } from "../../functions/contract.js";

/** A test client that keeps every frame it receives, and lets a caller wait for the next one. */
export class RecordingClient {
  readonly received: Buffer[] = [];
  closeCode: number | undefined;
  private waiter: (() => void) | undefined;
  private read = 0;

  private constructor(readonly socket: WebSocket) {
    socket.on("message", (data: Buffer) => {
      this.received.push(data);
      this.waiter?.();
    });
    socket.on("close", (code) => {
      this.closeCode = code;
      this.waiter?.();
    });
    socket.on("error", () => {});
  }

  static async open(url: string): Promise<RecordingClient> {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    const client = new RecordingClient(socket);
    await Promise.race([
      once(socket, "open"),
      once(socket, "unexpected-response").then(([, response]) => {
        throw new Error(
          `the handshake was refused (HTTP ${(response as IncomingMessage).statusCode})`,
        );
      }),
    ]);
    return client;
  }

  /** Sends a message in frames of at most the gateway's 32 KB, as API Gateway's clients must. */
  send(data: Buffer, binary: boolean): void {
    if (data.length <= LIMITS.frameBytes) {
      this.socket.send(data, { binary });
      return;
    }
    for (let at = 0; at < data.length; at += LIMITS.frameBytes) {
      const fin = at + LIMITS.frameBytes >= data.length;
      this.socket.send(data.subarray(at, at + LIMITS.frameBytes), { binary, fin });
    }
  }

  /** The next frame not yet taken, or undefined after `timeoutMs` or a close. */
  async next(timeoutMs: number): Promise<Buffer | undefined> {
    if (!(await this.until(() => this.read < this.received.length, timeoutMs))) return undefined;
    const frame = this.received[this.read] as Buffer;
    this.read += 1;
    return frame;
  }

  /** Resolves once `predicate` holds for the frames received, or false after `timeoutMs`. */
  async until(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (this.closeCode !== undefined) return predicate();
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return true;
  }
}
