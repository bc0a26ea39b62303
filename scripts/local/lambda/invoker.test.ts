import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { FUNCTION_NAMES } from "../../../functions/contract.js";
import { LocalLog, type LocalLogEntry } from "../local-log.js";
import {
  FANOUT_WORKER_ENVIRONMENTS,
  type InvocationOutcome,
  Invoker,
  MAX_ENVIRONMENTS_PER_FUNCTION,
} from "./invoker.js";

let dir: string;
let invoker: Invoker | undefined;
let log: LocalLog | undefined;
const entries: LocalLogEntry[] = [];
/** Called with every entry as it is written (tests wait on entries through it). */
let onEntry: (entry: LocalLogEntry) => void = () => {};

/**
 * A handler module that behaves as the event asks, and reports what it saw at cold start. It logs
 * the way Powertools' logger does: through a Console on process.stdout.
 *
 * `shared` is a SharedArrayBuffer the test also holds: `meet` counts itself in at index 0 and
 * waits (bounded) until two invocations have, which only happens when both run at the same time.
 * `spin` logs that it starts and then never yields.
 */
const bundle = `
import { Console } from "node:console";
import { threadId } from "node:worker_threads";
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
  let met;
  if (event.meet) {
    const view = new Int32Array(event.shared);
    Atomics.add(view, 0, 1);
    Atomics.notify(view, 0);
    const until = Date.now() + 10000;
    for (let seen = Atomics.load(view, 0); seen < 2 && Date.now() < until; seen = Atomics.load(view, 0)) {
      Atomics.wait(view, 0, seen, 100);
    }
    met = Atomics.load(view, 0) >= 2;
  }
  if (event.spin) {
    out.log(JSON.stringify({ level: "INFO", message: "spinning" }));
    while (true) {}
  }
  return { statusCode: 200, id: current, invocations, coldStartEnv, coldStartName, threadId, met,
    functionName: context.functionName, requestId: context.awsRequestId,
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

afterEach(async () => {
  await invoker?.stop();
  invoker = undefined;
  entries.length = 0;
  onEntry = () => {};
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function start(
  env: Record<string, string | undefined> = { INVOKER_TEST_VALUE: "cold" },
  maxEnvironmentsPerFunction?: number,
) {
  log = new LocalLog(join(dir, "local.log"), (entry) => {
    entries.push(entry);
    onEntry(entry);
  });
  invoker = await Invoker.start({
    distDir: join(dir, "dist"),
    env,
    log,
    ...(maxEnvironmentsPerFunction === undefined ? {} : { maxEnvironmentsPerFunction }),
  });
  return invoker;
}

type Result = Record<string, unknown>;
function resultOf(outcome: InvocationOutcome): Result {
  if (!outcome.ok) throw new Error(`invocation failed: ${outcome.error}`);
  return outcome.result as Result;
}

describe("invoker", () => {
  it("loads bundles after setting the environment and passes a Lambda-like context", async () => {
    const outcome = await (await start()).invoke(
      "connect",
      {},
      { trigger: "$connect", timeoutMs: 5000 },
    );
    const result = resultOf(outcome);
    expect(result.coldStartEnv).toBe("cold");
    expect(result.functionName).toBe("websocket-stages-local-connect");
    expect(result.remaining).toBeGreaterThan(0);
    expect(result.remaining).toBeLessThanOrEqual(5000);
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
      expect(resultOf(outcome).coldStartName).toBe(`name-of-${fn}`);
    }
  });

  it("runs two invokers side by side, each with its own environment, never touching process.env", async () => {
    delete process.env.INVOKER_TEST_VALUE;
    const first = await start({ INVOKER_TEST_VALUE: "first" });
    const log = new LocalLog(join(dir, "second.log"));
    const second = await Invoker.start({
      distDir: join(dir, "dist"),
      env: { INVOKER_TEST_VALUE: "second" },
      log,
    });
    try {
      const options = { trigger: "$default", timeoutMs: 5000 };
      expect(resultOf(await first.invoke("message", {}, options)).coldStartEnv).toBe("first");
      expect(resultOf(await second.invoke("message", {}, options)).coldStartEnv).toBe("second");
      expect(process.env.INVOKER_TEST_VALUE).toBeUndefined();
    } finally {
      await second.stop();
    }
  });

  it("attributes what a function prints to its invocation and writes it to the log file", async () => {
    const running = await start();
    const outcome = await running.invoke(
      "subscriber",
      { log: "fan-out done" },
      { trigger: "sns", timeoutMs: 5000 },
    );
    const line = entries.find((entry) => entry.type === "log");
    expect(line).toMatchObject({
      function: "subscriber",
      stream: "stdout",
      requestId: resultOf(outcome).requestId,
    });
    expect(line?.type === "log" && JSON.parse(line.line)).toEqual({
      level: "INFO",
      message: "fan-out done",
    });
    // Closing flushes the file: what it holds then is everything written.
    await log?.close();
    expect(await readFile(join(dir, "local.log"), "utf8")).toContain("fan-out done");
  });

  it("reports a thrown error and a timeout as outcomes, with Lambda's error payloads", async () => {
    const running = await start();
    const failed = await running.invoke(
      "message",
      { fail: "boom" },
      { trigger: "broadcast", connectionId: "abc=", timeoutMs: 5000 },
    );
    expect(failed).toMatchObject({
      ok: false,
      error: "Error: boom",
      timedOut: false,
      functionError: { errorType: "Error", errorMessage: "boom" },
    });
    const slow = await running.invoke(
      "message",
      { sleepMs: 5000 },
      { trigger: "broadcast", timeoutMs: 50 },
    );
    expect(slow).toMatchObject({
      ok: false,
      timedOut: true,
      functionError: { errorType: "Sandbox.Timedout" },
    });
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
    expect(outcomes.map((outcome) => resultOf(outcome).id)).toEqual(["first", "second"]);
    expect(running.environments("message")).toBe(2);
  });

  it("runs two environments of one function truly in parallel, on threads of their own", async () => {
    const running = await start();
    const shared = new SharedArrayBuffer(8);
    // Each invocation blocks its thread until the other has arrived: on one thread, the first
    // would hold it and the second could never arrive.
    const outcomes = await Promise.all(
      [1, 2].map(() =>
        running.invoke("message", { meet: true, shared }, { trigger: "test", timeoutMs: 15_000 }),
      ),
    );
    const results = outcomes.map(resultOf);
    expect(results.map((result) => result.met)).toEqual([true, true]);
    expect(new Set(results.map((result) => result.threadId)).size).toBe(2);
  });

  it("reuses an idle environment for the next invocation (a warm start)", async () => {
    const running = await start();
    const seen: Result[] = [];
    for (let i = 0; i < 3; i += 1) {
      seen.push(
        resultOf(await running.invoke("connect", {}, { trigger: "$connect", timeoutMs: 5000 })),
      );
    }
    expect(seen.map((result) => result.invocations)).toEqual([1, 2, 3]);
    expect(new Set(seen.map((result) => result.threadId)).size).toBe(1);
    expect(running.environments("connect")).toBe(1);
  });

  it("times out a handler that never yields, terminates its environment, and serves others meanwhile", async () => {
    const running = await start();
    const started = new Promise<void>((resolve) => {
      onEntry = (entry) => {
        if (entry.type === "log" && entry.line.includes("spinning")) resolve();
      };
    });
    const before = resultOf(
      await running.invoke("subscriber", {}, { trigger: "sns", timeoutMs: 5000 }),
    );
    let runawayEnded = false;
    const runaway = running
      .invoke("subscriber", { spin: true }, { trigger: "sns", timeoutMs: 3000 })
      .finally(() => {
        runawayEnded = true;
      });
    // The runaway logs this line just before its endless loop.
    await started;
    // Positive control: while it spins, this process and another environment still answer.
    await new Promise((resolve) => setImmediate(resolve));
    const meanwhile = await running.invoke(
      "message",
      { id: "meanwhile" },
      {
        trigger: "echo",
        timeoutMs: 5000,
      },
    );
    expect(resultOf(meanwhile).id).toBe("meanwhile");
    expect(runawayEnded).toBe(false);
    expect(await runaway).toMatchObject({ ok: false, timedOut: true });
    // Lambda never reuses the environment of a timed-out invocation: the next call starts cold.
    const next = resultOf(
      await running.invoke("subscriber", {}, { trigger: "sns", timeoutMs: 5000 }),
    );
    expect(next.invocations).toBe(1);
    expect(next.threadId).not.toBe(before.threadId);
    expect(running.environments("subscriber")).toBe(1);
  });

  it("queues invocations beyond the environment limit instead of failing them", async () => {
    expect(MAX_ENVIRONMENTS_PER_FUNCTION).toBeGreaterThan(1);
    const limit = 3;
    const running = await start(undefined, limit);
    const count = limit + 4;
    const outcomes = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        running.invoke(
          "message",
          { id: i, sleepMs: 20 },
          { trigger: "broadcast", timeoutMs: 5000 },
        ),
      ),
    );
    expect(outcomes.map((outcome) => resultOf(outcome).id)).toEqual(
      Array.from({ length: count }, (_, i) => i),
    );
    expect(running.environments("message")).toBe(limit);
  });

  it("runs more fan-out worker environments at once than other functions get, as shards need", async () => {
    expect(FANOUT_WORKER_ENVIRONMENTS).toBeGreaterThan(MAX_ENVIRONMENTS_PER_FUNCTION);
    const running = await start();
    const count = MAX_ENVIRONMENTS_PER_FUNCTION + 3;
    const burst = (fn: "fanout" | "message") =>
      Promise.all(
        Array.from({ length: count }, (_, i) =>
          running.invoke(fn, { id: i, sleepMs: 200 }, { trigger: "invoke", timeoutMs: 5000 }),
        ),
      );
    await burst("fanout");
    expect(running.environments("fanout")).toBe(count);
    // The same burst to a request-path function stays within the default limit.
    await burst("message");
    expect(running.environments("message")).toBe(MAX_ENVIRONMENTS_PER_FUNCTION);
  });

  it("names the missing bundles", async () => {
    const log = new LocalLog(join(dir, "missing.log"));
    await expect(Invoker.start({ distDir: join(dir, "nowhere"), env: {}, log })).rejects.toThrow(
      /npm run bundle/,
    );
  });

  it("refuses to start when a bundle fails its cold start, naming the error", async () => {
    const broken = join(dir, "broken");
    for (const fn of FUNCTION_NAMES) {
      await mkdir(join(broken, fn), { recursive: true });
      await writeFile(
        join(broken, fn, "index.mjs"),
        fn === "disconnect" ? `throw new Error("no config");` : bundle,
      );
    }
    const log = new LocalLog(join(dir, "broken.log"));
    await expect(Invoker.start({ distDir: broken, env: {}, log })).rejects.toThrow(/no config/);
  });
});
