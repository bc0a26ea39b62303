import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { FUNCTION_NAMES } from "../../../functions/contract.js";
import { LocalLog, type LocalLogEntry } from "../local-log.js";
import { Invoker, MAX_ENVIRONMENTS_PER_FUNCTION } from "./invoker.js";

let dir: string;
let invoker: Invoker | undefined;
const entries: LocalLogEntry[] = [];

/**
 * A handler module that behaves as the event asks, and reports what it saw at cold start. It logs
 * the way Powertools' logger does: through a Console on process.stdout.
 */
const bundle = `
import { Console } from "node:console";
const out = new Console({ stdout: process.stdout, stderr: process.stderr });
const coldStartEnv = process.env.INVOKER_TEST_VALUE;
const coldStartName = process.env.INVOKER_TEST_NAME;
let current;
let invocations = 0;
export const handler = async (event, context) => {
  invocations += 1;
  current = event.id;
  if (event.log) out.log(JSON.stringify({ level: "INFO", message: event.log }));
  if (event.fail) throw new Error(event.fail);
  if (event.sleepMs) await new Promise((resolve) => setTimeout(resolve, event.sleepMs));
  return { statusCode: 200, id: current, invocations, coldStartEnv, coldStartName, functionName: context.functionName, requestId: context.awsRequestId,
    remaining: context.getRemainingTimeInMillis() };
};
`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "invoker-"));
  for (const fn of FUNCTION_NAMES) {
    await mkdir(join(dir, "dist", fn), { recursive: true });
    await writeFile(join(dir, "dist", fn, "index.mjs"), bundle);
  }
});

afterEach(() => {
  invoker?.stop();
  invoker = undefined;
  entries.length = 0;
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function start(env: Record<string, string | undefined> = { INVOKER_TEST_VALUE: "cold" }) {
  const log = new LocalLog(join(dir, "local.log"), (entry) => entries.push(entry));
  invoker = await Invoker.start({ distDir: join(dir, "dist"), env, log });
  return invoker;
}

describe("invoker", () => {
  it("loads bundles after setting the environment and passes a Lambda-like context", async () => {
    const outcome = await (await start()).invoke(
      "connect",
      {},
      { trigger: "$connect", timeoutMs: 5000 },
    );
    expect(outcome.ok).toBe(true);
    const result = (outcome as { result: Record<string, unknown> }).result;
    expect(result.coldStartEnv).toBe("cold");
    expect(result.functionName).toBe("websocket-stages-local-connect");
    expect(result.remaining).toBeGreaterThan(4000);
    expect(entries).toContainEqual(
      expect.objectContaining({
        type: "invocation",
        function: "connect",
        result: "ok",
        statusCode: 200,
        requestId: result.requestId,
      }),
    );
  });

  it("gives each function its own value of a per-function variable at cold start", async () => {
    const log = new LocalLog(join(dir, "local.log"));
    invoker = await Invoker.start({
      distDir: join(dir, "dist"),
      env: {},
      functionEnv: (fn) => ({ INVOKER_TEST_NAME: `name-of-${fn}` }),
      log,
    });
    for (const fn of FUNCTION_NAMES) {
      const outcome = await invoker.invoke(fn, {}, { trigger: "test", timeoutMs: 5000 });
      expect((outcome as { result: { coldStartName: string } }).result.coldStartName).toBe(
        `name-of-${fn}`,
      );
    }
    invoker.stop();
    invoker = undefined;
    expect(process.env.INVOKER_TEST_NAME).toBeUndefined();
  });

  it("gives a second stage in the same process a fresh cold start with its own environment", async () => {
    await start({ INVOKER_TEST_VALUE: "first" });
    invoker?.stop();
    const outcome = await (await start({ INVOKER_TEST_VALUE: "second" })).invoke(
      "message",
      {},
      { trigger: "$default", timeoutMs: 5000 },
    );
    expect((outcome as { result: { coldStartEnv: string } }).result.coldStartEnv).toBe("second");
  });

  it("restores process.env when stopped", async () => {
    delete process.env.INVOKER_TEST_VALUE;
    (await start()).stop();
    invoker = undefined;
    expect(process.env.INVOKER_TEST_VALUE).toBeUndefined();
  });

  it("refuses a second active invoker in one process", async () => {
    await start();
    const log = new LocalLog(join(dir, "other.log"));
    await expect(Invoker.start({ distDir: join(dir, "dist"), env: {}, log })).rejects.toThrow(
      /already running/,
    );
  });

  it("attributes what a function prints to its invocation and writes it to the log file", async () => {
    const running = await start();
    await running.invoke(
      "subscriber",
      { log: "fan-out done" },
      { trigger: "sns", timeoutMs: 5000 },
    );
    const line = entries.find((entry) => entry.type === "log");
    expect(line).toMatchObject({ function: "subscriber", stream: "stdout" });
    expect(line?.type === "log" && JSON.parse(line.line)).toEqual({
      level: "INFO",
      message: "fan-out done",
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await readFile(join(dir, "local.log"), "utf8")).toContain("fan-out done");
  });

  it("reports a thrown error and a timeout as outcomes", async () => {
    const running = await start();
    const failed = await running.invoke(
      "message",
      { fail: "boom" },
      { trigger: "broadcast", connectionId: "abc=", timeoutMs: 5000 },
    );
    expect(failed).toEqual({ ok: false, error: "Error: boom", timedOut: false });
    const slow = await running.invoke(
      "message",
      { sleepMs: 500 },
      { trigger: "broadcast", timeoutMs: 50 },
    );
    expect(slow).toMatchObject({ ok: false, timedOut: true });
    expect(
      entries
        .filter((entry) => entry.type === "invocation")
        .map((entry) => entry.type === "invocation" && entry.result),
    ).toEqual(["error", "timeout"]);
  });

  it("runs concurrent invocations in separate environments, so module state is never shared", async () => {
    const running = await start();
    const outcomes = await Promise.all(
      ["first", "second"].map((id) =>
        running.invoke("message", { id, sleepMs: 30 }, { trigger: "broadcast", timeoutMs: 5000 }),
      ),
    );
    expect(outcomes.map((outcome) => (outcome as { result: { id: string } }).result.id)).toEqual([
      "first",
      "second",
    ]);
    expect(running.environments("message")).toBe(2);
  });

  it("reuses an idle environment for the next invocation (a warm start)", async () => {
    const running = await start();
    const counts: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      const outcome = await running.invoke("connect", {}, { trigger: "$connect", timeoutMs: 5000 });
      counts.push((outcome as { result: { invocations: number } }).result.invocations);
    }
    expect(counts).toEqual([1, 2, 3]);
    expect(running.environments("connect")).toBe(1);
  });

  it("never reuses the environment of an invocation that timed out", async () => {
    const running = await start();
    await running.invoke("subscriber", { sleepMs: 150 }, { trigger: "sns", timeoutMs: 20 });
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(running.environments("subscriber")).toBe(0);
    const next = await running.invoke("subscriber", {}, { trigger: "sns", timeoutMs: 5000 });
    expect((next as { result: { invocations: number } }).result.invocations).toBe(1);
  });

  it("queues invocations beyond the environment limit instead of failing them", async () => {
    const running = await start();
    const count = MAX_ENVIRONMENTS_PER_FUNCTION + 4;
    const outcomes = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        running.invoke(
          "message",
          { id: i, sleepMs: 20 },
          { trigger: "broadcast", timeoutMs: 5000 },
        ),
      ),
    );
    expect(outcomes.map((outcome) => (outcome as { result: { id: number } }).result.id)).toEqual(
      Array.from({ length: count }, (_, i) => i),
    );
    expect(running.environments("message")).toBe(MAX_ENVIRONMENTS_PER_FUNCTION);
  });

  it("names the missing bundles", async () => {
    const log = new LocalLog(join(dir, "missing.log"));
    await expect(Invoker.start({ distDir: join(dir, "nowhere"), env: {}, log })).rejects.toThrow(
      /npm run bundle/,
    );
  });
});
