import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { access, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { CLOSE_CODES, STATE_DIR_ENV, type StageOutputs } from "../../functions/contract.js";
import { bundleFunctions } from "../bundle.js";
import type { LocalLogEntry } from "./local-log.js";

/**
 * Ctrl-C as a person presses it: `npm start` runs in a pseudo-terminal (util-linux `script`), and
 * the terminal's interrupt character reaches every process of the foreground group at once — npm,
 * the shell and node — and npm forwards it once more. The stage must still stop cleanly.
 */

function hasUtilLinuxScript(): boolean {
  try {
    return execFileSync("script", ["--version"], { encoding: "utf8" }).includes("util-linux");
  } catch {
    return false;
  }
}

const CLIENTS = 100;
let dir: string;
let terminal: ChildProcess | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "local-terminal-"));
  await bundleFunctions(join(dir, "dist"));
}, 120_000);

afterAll(async () => {
  terminal?.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

async function readyOutputs(log: () => string): Promise<StageOutputs> {
  for (;;) {
    const ready = log()
      .split(/\r?\n/)
      .map((line) => line.slice(line.indexOf("{")))
      .flatMap((line) => {
        try {
          const parsed = JSON.parse(line) as { type?: string; outputs?: StageOutputs };
          return parsed.type === "ready" && parsed.outputs ? [parsed.outputs] : [];
        } catch {
          return [];
        }
      });
    if (ready[0] !== undefined) return ready[0];
    await once(terminal as ChildProcess, "output");
  }
}

describe.skipIf(!hasUtilLinuxScript())("npm start in a terminal", () => {
  it("stops cleanly on Ctrl-C: 1001 to every client, every $disconnect run, no state left", async () => {
    const stateDir = join(dir, "state");
    const command = `npm start --silent -- --port 0 --json --dist-dir ${join(dir, "dist")}`;
    const started = spawn("script", ["--quiet", "--return", "--command", command, "/dev/null"], {
      env: { ...process.env, [STATE_DIR_ENV]: stateDir, NO_COLOR: "1" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    terminal = started;
    let output = "";
    started.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      started.emit("output");
    });
    const outputs = await readyOutputs(() => output);

    const sockets = await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        const socket = new WebSocket(outputs.websocketUrl);
        await once(socket, "open");
        return socket;
      }),
    );
    const closes = sockets.map((socket) => once(socket, "close") as Promise<[number, Buffer]>);
    const exited = once(started, "exit");
    started.stdin?.write("\x03");

    const codes = (await Promise.all(closes)).map(([code]) => code);
    expect(codes).toEqual(Array(CLIENTS).fill(CLOSE_CODES.goingAway));
    // npm itself answers a Ctrl-C with 130 once its script has exited; what matters is that the
    // stage exited on its own rather than being killed, and what it did before it went.
    const [code, signal] = (await exited) as [number, NodeJS.Signals | null];
    expect(signal).toBeNull();
    expect([0, 130]).toContain(code);
    await expect(access(join(stateDir, "local.json"))).rejects.toThrow();

    const entries = (await readFile(join(stateDir, "local.log"), "utf8"))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as LocalLogEntry);
    const disconnects = entries.filter(
      (entry) =>
        entry.type === "invocation" && entry.function === "disconnect" && entry.result === "ok",
    );
    // Positive control: the same log holds the connects, so an empty list is not a missing log.
    const connects = entries.filter(
      (entry) =>
        entry.type === "invocation" && entry.function === "connect" && entry.result === "ok",
    );
    expect(connects).toHaveLength(CLIENTS);
    expect(disconnects).toHaveLength(CLIENTS);
  }, 60_000);
});
