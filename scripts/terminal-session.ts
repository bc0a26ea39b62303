import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { type Closure, describeClosure, TestClient } from "../smoke/client.js";
import { ms } from "../smoke/smoke.js";

/**
 * `npm run connect`: a WebSocket session in a terminal. Each line read is sent as one frame and
 * every frame that arrives is printed. Interactive, it runs until the input ends (Ctrl-D) or
 * the process is interrupted; with `once`, it sends what the input holds, waits until replies
 * stop coming, and exits.
 */

export interface TerminalSessionOptions {
  readonly url: string;
  readonly input: Readable;
  /** Frames that arrive, one per line. */
  readonly output: Writable;
  /** Status lines: connected, closed. */
  readonly status: Writable;
  /** Send the input, wait for replies, exit. */
  readonly once: boolean;
  /** In once mode: exit after this long without a frame once the input has ended. */
  readonly quietMs: number;
  /** Bound on the handshake, and on the whole wait for replies in once mode. */
  readonly timeoutMs: number;
  /** Prefix frames with "< " (for people; scripts get the frames alone). */
  readonly prefix?: boolean;
}

/** Runs a session; resolves with the exit code: 0, or 1 when the stage closed the connection. */
export async function runTerminalSession(options: TerminalSessionOptions): Promise<number> {
  const client = await TestClient.connect(options.url, { timeoutMs: options.timeoutMs });
  let lastFrameAt = performance.now();
  client.onFrame((frame) => {
    lastFrameAt = frame.at;
    options.output.write(`${options.prefix === true ? "< " : ""}${frame.data}\n`);
  });
  options.status.write(
    `Connected to ${options.url} in ${ms(client.connectMs)}.` +
      (options.once ? "\n" : " Each line you type is sent; Ctrl-D closes.\n"),
  );

  const lines = createInterface({ input: options.input, terminal: false });
  let userClosed = false;
  const inputEnded = new Promise<void>((resolve) => {
    lines.on("line", (line) => {
      if (line.trim() === "" || !client.isOpen) return;
      client.send(line);
    });
    lines.on("close", resolve);
  });

  const stageClosed = client.whenClosed().then((closure) => ({ closure }));
  const finished = await Promise.race([
    stageClosed,
    inputEnded.then(async () => {
      if (options.once) await quiet(client, () => lastFrameAt, options);
      userClosed = true;
      return undefined;
    }),
  ]);
  lines.close();
  if (finished !== undefined && !userClosed) {
    options.status.write(
      `The stage closed the connection (${describeClosure(finished.closure)}).\n`,
    );
    return 1;
  }
  const closure: Closure = await client.close(options.timeoutMs);
  options.status.write(`Closed (${describeClosure(closure)}).\n`);
  return 0;
}

/** Waits until no frame has arrived for quietMs, the connection closes, or timeoutMs passes. */
async function quiet(
  client: TestClient,
  lastFrameAt: () => number,
  options: Pick<TerminalSessionOptions, "quietMs" | "timeoutMs">,
): Promise<void> {
  const deadline = performance.now() + options.timeoutMs;
  // Replies to the last line sent count from when it was sent.
  let since = Math.max(lastFrameAt(), performance.now());
  while (client.isOpen) {
    since = Math.max(since, lastFrameAt());
    const wait = Math.min(since + options.quietMs, deadline) - performance.now();
    if (wait <= 0) return;
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}
