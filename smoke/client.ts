import { performance } from "node:perf_hooks";
import WebSocket from "ws";
import { ExpectedError } from "./errors.js";

/**
 * A promise-based WebSocket client for checking a stage: it records every frame with the time it
 * arrived, so a test can wait for the frame it expects and, when it does not come, say what came
 * instead.
 */

export interface Frame {
  readonly data: string;
  /** performance.now() when the frame arrived. */
  readonly at: number;
}

export interface Closure {
  readonly code: number;
  readonly reason: string;
}

/** A wait that ended without what it waited for. */
export class ExpectationError extends ExpectedError {
  override readonly name = "ExpectationError";
  constructor(
    readonly expected: string,
    readonly received: string,
  ) {
    super(`Expected ${expected}, but ${received}.`);
  }
}

/** The WebSocket handshake failed: nothing listening, refused, or rejected by $connect. */
export class ConnectError extends ExpectedError {
  override readonly name = "ConnectError";
}

export interface ConnectOptions {
  /** Bound on the whole handshake. */
  readonly timeoutMs: number;
  readonly headers?: Record<string, string>;
}

export interface WaitOptions {
  readonly timeoutMs: number;
  /** What the wait is for, in words: reported when it times out. */
  readonly expected: string;
}

/** Frames longer than this are shortened in messages. */
const SHOWN_FRAME_CHARS = 200;
const SHOWN_FRAMES = 5;

export function describeFrames(frames: readonly Frame[]): string {
  if (frames.length === 0) return "nothing arrived";
  const shown = frames.slice(0, SHOWN_FRAMES).map((frame) => shorten(frame.data));
  const more = frames.length > SHOWN_FRAMES ? ` and ${frames.length - SHOWN_FRAMES} more` : "";
  return `${frames.length === 1 ? "1 frame" : `${frames.length} frames`} arrived: ${shown.join(", ")}${more}`;
}

function shorten(data: string): string {
  const quoted = JSON.stringify(data);
  return quoted.length > SHOWN_FRAME_CHARS ? `${quoted.slice(0, SHOWN_FRAME_CHARS)}…"` : quoted;
}

export class TestClient {
  /** Every frame received, in order. */
  readonly frames: Frame[] = [];
  /** Index of the first frame `next` has not consumed yet. */
  private cursor = 0;
  private closure: Closure | undefined;
  private readonly waiters = new Set<() => void>();
  private readonly listeners = new Set<(frame: Frame) => void>();
  private readonly closed: Promise<Closure>;

  private constructor(
    private readonly socket: WebSocket,
    readonly url: string,
    /** Milliseconds from opening the TCP connection to the completed handshake. */
    readonly connectMs: number,
    /** HTTP status of the handshake response (101 when it succeeded). */
    readonly handshakeStatus: number,
  ) {
    socket.on("message", (data, isBinary) => {
      const text = isBinary ? Buffer.from(data as Buffer).toString("base64") : String(data);
      const frame = { data: text, at: performance.now() };
      this.frames.push(frame);
      for (const listener of this.listeners) listener(frame);
      this.wake();
    });
    this.closed = new Promise((resolve) => {
      socket.once("close", (code, reason) => {
        this.closure = { code, reason: reason.toString("utf8") };
        this.wake();
        resolve(this.closure);
      });
    });
    // After the handshake, errors surface as a close; keep them from crashing the process.
    socket.on("error", () => {});
  }

  static connect(url: string, options: ConnectOptions): Promise<TestClient> {
    const started = performance.now();
    return new Promise((resolve, reject) => {
      let status = 0;
      const socket = new WebSocket(url, {
        handshakeTimeout: options.timeoutMs,
        ...(options.headers === undefined ? {} : { headers: options.headers }),
      });
      const fail = (message: string, cause?: unknown) => {
        socket.removeAllListeners();
        socket.on("error", () => {});
        socket.terminate();
        reject(new ConnectError(message, { cause }));
      };
      socket.once("upgrade", (response) => {
        status = response.statusCode ?? 0;
      });
      socket.once("unexpected-response", (_request, response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8").trim();
          fail(
            `The handshake with ${url} was rejected: HTTP ${response.statusCode}${body === "" ? "" : ` ${shorten(body)}`}.`,
          );
        });
        response.on("error", (error) => fail(`The handshake with ${url} failed.`, error));
      });
      socket.once("error", (error: NodeJS.ErrnoException) => {
        if (error.code === "ECONNREFUSED") {
          fail(`Nothing accepts connections at ${url} (connection refused).`, error);
        } else if (/timed out/i.test(error.message)) {
          fail(`The handshake with ${url} did not complete within ${options.timeoutMs} ms.`, error);
        } else {
          fail(`Cannot connect to ${url}: ${error.message}`, error);
        }
      });
      socket.once("open", () => {
        socket.removeAllListeners("error");
        socket.removeAllListeners("unexpected-response");
        resolve(new TestClient(socket, url, performance.now() - started, status));
      });
    });
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /** The close code and reason once the connection has closed. */
  get closedWith(): Closure | undefined {
    return this.closure;
  }

  send(data: string): void {
    if (!this.isOpen) {
      throw new ExpectationError(
        `the connection to ${this.url} to be open to send a frame`,
        this.closure === undefined
          ? `it is ${this.socket.readyState === WebSocket.CLOSING ? "closing" : "not open"}`
          : `it closed (${describeClosure(this.closure)})`,
      );
    }
    this.socket.send(data);
  }

  /**
   * Calls `listener` with every frame received so far (one may arrive with the handshake, before
   * anyone could listen) and every later one, until the returned function is called.
   */
  onFrame(listener: (frame: Frame) => void): () => void {
    for (const frame of this.frames) listener(frame);
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Index of the next frame to arrive: pass it to `framesSince`. */
  mark(): number {
    return this.frames.length;
  }

  framesSince(mark: number): Frame[] {
    return this.frames.slice(mark);
  }

  /**
   * Waits for the first frame not consumed yet that matches `predicate`; frames before it are
   * consumed too. Rejects with an ExpectationError naming what came instead.
   */
  async next(predicate: (frame: Frame) => boolean, options: WaitOptions): Promise<Frame> {
    const start = this.cursor;
    const deadline = performance.now() + options.timeoutMs;
    for (;;) {
      const index = this.frames.findIndex((frame, i) => i >= this.cursor && predicate(frame));
      if (index >= 0) {
        this.cursor = index + 1;
        return this.frames[index] as Frame;
      }
      this.cursor = this.frames.length;
      const remaining = deadline - performance.now();
      const whatCame = () => describeFrames(this.frames.slice(start));
      if (this.closure !== undefined) {
        throw new ExpectationError(
          options.expected,
          `the connection closed (${describeClosure(this.closure)}); ${whatCame()}`,
        );
      }
      if (remaining <= 0) {
        throw new ExpectationError(
          options.expected,
          `within ${options.timeoutMs} ms ${whatCame()}`,
        );
      }
      await this.arrival(remaining);
    }
  }

  /** Closes the connection and waits for the close handshake (or cuts it after timeoutMs). */
  async close(timeoutMs: number): Promise<Closure> {
    if (this.closure !== undefined) return this.closure;
    this.socket.close(1000, "done");
    let timer: NodeJS.Timeout | undefined;
    const cut = new Promise<Closure>((resolve) => {
      timer = setTimeout(() => {
        this.socket.terminate();
        resolve({ code: 1006, reason: `no close handshake within ${timeoutMs} ms` });
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.closed, cut]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves when the connection closes, from either side. */
  whenClosed(): Promise<Closure> {
    return this.closed;
  }

  private arrival(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiters.add(done);
    });
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

export function describeClosure(closure: Closure): string {
  return closure.reason === ""
    ? `code ${closure.code}`
    : `code ${closure.code}, "${closure.reason}"`;
}
