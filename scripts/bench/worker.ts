import { type ChildProcess, fork } from "node:child_process";

/**
 * The bench's helper processes (the stage, the clients) and how it talks to them: requests that get
 * one answer each, and events the helper sends on its own (a message reached every client).
 * Separate processes keep each side's CPU its own: the function's CPU is measured in the bench
 * process, with no gateway or client work in it.
 */

interface Envelope {
  readonly id?: number;
  readonly error?: string;
  readonly event?: string;
  readonly [key: string]: unknown;
}

export class Worker {
  private next = 1;
  private readonly waiting = new Map<
    number,
    { resolve: (v: Envelope) => void; reject: (e: Error) => void }
  >();
  private readonly listeners = new Map<string, (event: Envelope) => void>();

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    child.on("message", (raw) => {
      const message = raw as Envelope;
      if (message.event !== undefined) {
        this.listeners.get(message.event)?.(message);
        return;
      }
      const pending = message.id === undefined ? undefined : this.waiting.get(message.id);
      if (pending === undefined || message.id === undefined) return;
      this.waiting.delete(message.id);
      if (message.error !== undefined) pending.reject(new Error(`${name}: ${message.error}`));
      else pending.resolve(message);
    });
    child.on("exit", (code, signal) => {
      for (const pending of this.waiting.values()) {
        pending.reject(new Error(`${name} exited (${signal ?? code}) before answering`));
      }
      this.waiting.clear();
    });
  }

  /**
   * Starts `file` (TypeScript, through tsx) as a helper process; with `profileDir`, it writes a V8
   * CPU profile there when it exits (`npm run bench -- --cpu-prof DIR`).
   */
  static start(name: string, file: URL, env: NodeJS.ProcessEnv = {}, profileDir?: string): Worker {
    const child = fork(file, [], {
      execArgv: [
        "--import",
        "tsx",
        ...(profileDir === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", profileDir]),
      ],
      env: { ...process.env, ...env },
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    return new Worker(name, child);
  }

  request<T>(command: string, args: Record<string, unknown> = {}): Promise<T & Envelope> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: Envelope) => void, reject });
      this.child.send({ id, command, ...args });
    });
  }

  on(event: string, listener: (event: Envelope) => void): void {
    this.listeners.set(event, listener);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    await this.request("stop").catch(() => undefined);
    await exited;
  }

  kill(): void {
    this.child.kill();
  }
}

type Handler = (args: Record<string, unknown>) => Promise<Record<string, unknown> | undefined>;

/** In a helper process: answers the bench's requests with `handlers`. */
export function serve(handlers: Record<string, Handler>): void {
  process.on("message", (raw) => {
    const { id, command, ...args } = raw as { id: number; command: string };
    const handler = handlers[command];
    const answer = handler
      ? handler(args)
      : Promise.reject(new Error(`unknown command ${command}`));
    answer.then(
      (result) => {
        process.send?.({ id, ...result });
        if (command === "stop") process.disconnect();
      },
      (error: unknown) =>
        process.send?.({ id, error: error instanceof Error ? error.message : String(error) }),
    );
  });
}

/** In a helper process: tells the bench something happened. */
export function emit(event: string, body: Record<string, unknown>): void {
  process.send?.({ event, ...body });
}

/** A wall-clock time in milliseconds, sub-millisecond, comparable across the bench's processes. */
export function wallClock(): number {
  return performance.timeOrigin + performance.now();
}
