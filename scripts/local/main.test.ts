import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { access, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { CLOSE_CODES, STATE_DIR_ENV, type StageOutputs } from "../../functions/contract.js";
import { bundleFunctions } from "../bundle.js";
import type { LocalLogEntry } from "./local-log.js";

/** `npm start` as a user runs it: the CLI in its own process, stopped with Ctrl-C (SIGINT). */

let dir: string;
let child: ChildProcess | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "local-cli-"));
  await bundleFunctions(join(dir, "dist"));
}, 120_000);

afterAll(async () => {
  child?.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

function cli(args: string[]) {
  return [
    process.execPath,
    ["--import", "tsx", "scripts/local/main.ts", ...args],
    { env: { ...process.env, [STATE_DIR_ENV]: join(dir, "state") } },
  ] as const;
}

/**
 * Starts `npm start --json` with its state in `stateDir` and resolves at its ready line with the
 * stage's outputs; every line after that is a log entry, handed to `onEntry`.
 */
async function startJsonStage(
  stateDir: string,
  extraArgs: readonly string[] = [],
  onEntry: (entry: LocalLogEntry) => void = () => {},
) {
  const [command, args, options] = cli([
    "--port",
    "0",
    "--json",
    "--dist-dir",
    join(dir, "dist"),
    ...extraArgs,
  ]);
  const started = spawn(command, args, {
    env: { ...options.env, [STATE_DIR_ENV]: stateDir },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child = started;
  const lines = createInterface({ input: started.stdout });
  const outputs = await new Promise<StageOutputs | undefined>((resolve) => {
    lines.on("line", (line) => {
      const parsed = JSON.parse(line) as { type: string; outputs?: StageOutputs };
      if (parsed.type === "ready") resolve(parsed.outputs);
      else onEntry(parsed as LocalLogEntry);
    });
    // Output ended without a ready line: the stage failed to start, and the caller's checks say so.
    lines.on("close", () => resolve(undefined));
  });
  return { started, outputs };
}

/** Runs the CLI with `args` to its failure: its exit code and what it wrote to stderr. */
async function runToFailure(args: string[]) {
  const [command, argv, options] = cli(args);
  return (await promisify(execFile)(command, argv, options).catch((e: unknown) => e)) as {
    code: number;
    stderr: string;
  };
}

describe("npm start", () => {
  it("prints a ready line, serves clients, and on Ctrl-C closes them with 1001 and exits 0", async () => {
    const { started, outputs } = await startJsonStage(join(dir, "state"));
    expect(outputs?.websocketUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/local$/);
    await access(join(dir, "state", "local.json"));

    const socket = new WebSocket(outputs?.websocketUrl ?? "");
    await once(socket, "open");
    const closed = once(socket, "close");
    const exited = once(started, "exit");
    started.kill("SIGINT");
    const [code] = (await closed) as [number];
    expect(code).toBe(CLOSE_CODES.goingAway);
    expect(await exited).toEqual([0, null]);
    await expect(access(join(dir, "state", "local.json"))).rejects.toThrow();
  });

  it("names every endpoint in its banner, the Lambda Invoke API's included", async () => {
    const [command, args, options] = cli(["--port", "0", "--dist-dir", join(dir, "dist")]);
    const started = spawn(command, args, {
      env: { ...options.env, [STATE_DIR_ENV]: join(dir, "state-banner"), NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = started;
    const banner: string[] = [];
    for await (const line of createInterface({ input: started.stdout })) {
      banner.push(line);
      if (line.trimStart().startsWith("Logs")) break;
    }
    const endpoint = (label: string) =>
      banner
        .find((line) => line.trimStart().startsWith(`${label} `))
        ?.trim()
        .split(/\s+/)[1];
    expect(endpoint("WebSocket")).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/local$/);
    expect(endpoint("Management")).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/local$/);
    const ports = ["S3", "SNS", "Lambda"].map((label) => {
      const url = endpoint(label);
      expect(url, label).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      return new URL(url as string).port;
    });
    // Three stand-ins, three ports: a label printing another's endpoint would repeat one.
    expect(new Set(ports).size).toBe(3);
    const exited = once(started, "exit");
    started.kill("SIGINT");
    expect(await exited).toEqual([0, null]);
  });

  it("takes interrupts moments apart as one Ctrl-C: every $disconnect still runs", async () => {
    const stateDir = join(dir, "state-relayed");
    const entries: LocalLogEntry[] = [];
    const { started, outputs } = await startJsonStage(stateDir, [], (entry) => entries.push(entry));
    const sockets = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const socket = new WebSocket(outputs?.websocketUrl ?? "");
        await once(socket, "open");
        return socket;
      }),
    );
    const exited = once(started, "exit");
    // What one Ctrl-C becomes in a terminal: the terminal's own signal, npm's forwarded copy and
    // tsx's relay 30 ms later.
    started.kill("SIGINT");
    started.kill("SIGINT");
    await once(sockets[0] as WebSocket, "close");
    started.kill("SIGINT");
    expect(await exited).toEqual([0, null]);
    const ran = (fn: string) =>
      entries.filter((e) => e.type === "invocation" && e.function === fn && e.result === "ok");
    expect(ran("connect")).toHaveLength(sockets.length);
    expect(ran("disconnect")).toHaveLength(sockets.length);
    await expect(access(join(stateDir, "local.json"))).rejects.toThrow();
  }, 60_000);

  it("exits 2 naming the bad value when a port is not a number", async () => {
    const failure = await runToFailure(["--port", "eighty"]);
    expect(failure.code).toBe(2);
    expect(failure.stderr).toContain("--port eighty is not a port");
  });

  it("says which bundles are missing and how to build them", async () => {
    const failure = await runToFailure(["--port", "0", "--dist-dir", join(dir, "nowhere")]);
    expect(failure.code).toBe(1);
    expect(failure.stderr).toContain("npm run bundle");
    expect(failure.stderr).not.toMatch(/\n\s+at /);
  });

  it("closes idle connections and long ones after the times given on the command line, with 1001 and their $disconnect", async () => {
    const stateDir = join(dir, "state-timeouts");
    const disconnects: number[] = [];
    let disconnected: () => void = () => {};
    const bothDisconnected = new Promise<void>((resolve) => {
      disconnected = resolve;
    });
    const { started, outputs } = await startJsonStage(
      stateDir,
      ["--idle-timeout", "400", "--max-connection", "1200"],
      (entry) => {
        if (entry.type === "invocation" && entry.function === "disconnect") {
          disconnects.push(1);
          if (disconnects.length === 2) disconnected();
        }
      },
    );
    const idle = new WebSocket(outputs?.websocketUrl ?? "");
    const busy = new WebSocket(outputs?.websocketUrl ?? "");
    // Listened for from the start: on a slow machine `idle` may time out before `busy` opens.
    const idleClose = once(idle, "close");
    const busyClose = once(busy, "close");
    await Promise.all([once(idle, "open"), once(busy, "open")]);
    // Activity every 100 ms keeps `busy` from idling out: only the maximum duration closes it.
    const keepBusy = setInterval(() => busy.ping(), 100);
    const [idleCode] = (await idleClose) as [number];
    expect(busy.readyState).toBe(WebSocket.OPEN);
    const [busyCode] = (await busyClose) as [number];
    clearInterval(keepBusy);
    expect([idleCode, busyCode]).toEqual([CLOSE_CODES.goingAway, CLOSE_CODES.goingAway]);
    await bothDisconnected;
    const exited = once(started, "exit");
    started.kill("SIGINT");
    expect(await exited).toEqual([0, null]);
  }, 60_000);

  it("exits 2 naming the option when a timeout is not a number of milliseconds", async () => {
    const failure = await runToFailure(["--idle-timeout", "soon"]);
    expect(failure.code).toBe(2);
    expect(failure.stderr).toContain("--idle-timeout takes a whole number of milliseconds");
  });
});
