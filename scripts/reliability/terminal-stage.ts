import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { STATE_DIR_ENV, type StageOutputs } from "../../functions/contract.js";
import type { LocalLogEntry } from "../local/local-log.js";

/**
 * `npm start -- --json` in a pseudo-terminal (util-linux `script`), as a person runs it: Ctrl-C is
 * the terminal's interrupt character, which reaches every process of the foreground group — npm,
 * the shell and node — and is relayed again by npm and tsx. The stage's JSON lines (its outputs,
 * then every log entry) are read as they come.
 */

export function hasUtilLinuxScript(): boolean {
  try {
    return execFileSync("script", ["--version"], { encoding: "utf8" }).includes("util-linux");
  } catch {
    return false;
  }
}

type Waiter = (entry: LocalLogEntry) => void;

export class TerminalStage {
  /** Every log entry the stage printed so far. */
  readonly entries: LocalLogEntry[] = [];
  private readonly waiters = new Set<Waiter>();
  private pending = "";
  private outputsSeen: ((outputs: StageOutputs) => void) | undefined;
  readonly exited: Promise<[number | null, NodeJS.Signals | null]>;

  private constructor(private readonly child: ChildProcess) {
    this.exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
    child.stdout?.on("data", (chunk: Buffer) => this.read(chunk.toString("utf8")));
  }

  /** Starts `npm start -- --port 0 --json <args>` with its state in stateDir. */
  static async start(
    args: readonly string[],
    stateDir: string,
    timeoutMs: number,
  ): Promise<{ stage: TerminalStage; outputs: StageOutputs }> {
    const command = ["npm start --silent -- --port 0 --json", ...args].join(" ");
    const child = spawn("script", ["--quiet", "--return", "--command", command, "/dev/null"], {
      env: { ...process.env, [STATE_DIR_ENV]: stateDir, NO_COLOR: "1" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const stage = new TerminalStage(child);
    const ready = new Promise<StageOutputs>((resolve) => {
      stage.outputsSeen = resolve;
    });
    let timer: NodeJS.Timeout | undefined;
    const outputs = await Promise.race([
      ready,
      stage.exited.then(([code]) => {
        throw new Error(`npm start exited (${code}) before it was ready.`);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`npm start was not ready within ${timeoutMs} ms.`)),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    return { stage, outputs };
  }

  private read(text: string): void {
    this.pending += text;
    const lines = this.pending.split(/\r?\n/);
    this.pending = lines.pop() ?? "";
    for (const line of lines) {
      const start = line.indexOf("{");
      if (start < 0) continue;
      let parsed: { type?: string; outputs?: StageOutputs };
      try {
        parsed = JSON.parse(line.slice(start)) as typeof parsed;
      } catch {
        continue;
      }
      if (parsed.type === "ready" && parsed.outputs !== undefined) {
        this.outputsSeen?.(parsed.outputs);
        continue;
      }
      const entry = parsed as LocalLogEntry;
      this.entries.push(entry);
      for (const waiter of [...this.waiters]) waiter(entry);
    }
  }

  /** Resolves with the first printed entry matching, including those already printed. */
  entry(
    matches: (entry: LocalLogEntry) => boolean,
    timeoutMs: number,
  ): Promise<LocalLogEntry | undefined> {
    const seen = this.entries.find(matches);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => {
      const waiter: Waiter = (entry) => {
        if (matches(entry)) done(entry);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      const done = (entry: LocalLogEntry | undefined) => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        resolve(entry);
      };
      this.waiters.add(waiter);
    });
  }

  /** Presses Ctrl-C in the terminal. */
  interrupt(): void {
    this.child.stdin?.write("\x03");
  }

  /** Ends the terminal's processes at once (cleanup after a failure). */
  kill(): void {
    this.child.kill("SIGKILL");
  }
}
