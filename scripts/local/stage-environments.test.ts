import { execFile } from "node:child_process";
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { InvokeCommand, LambdaClient, ResourceNotFoundException } from "@aws-sdk/client-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { ENV, STATE_DIR_ENV } from "../../functions/contract.js";
import { bundleFunctions } from "../bundle.js";
import type { LocalLogEntry } from "./local-log.js";
import { type RunningLocalStage, startLocalStage } from "./stage.js";

/**
 * The local stage's execution environments and its Lambda Invoke API, end to end: the real
 * bundles, except that the subscriber's is wrapped so a test can make it spin forever, fail, or
 * report a variable of its environment — and otherwise runs the real handler.
 */

const WRAPPER = `
import { handler as real } from "./real.mjs";
export const handler = async (event, context) => {
  if (event.spin) {
    console.log("spinning");
    while (true) {}
  }
  if (event.fail) throw new Error(event.fail);
  if (event.variable) return { value: process.env[event.variable] ?? null };
  return real(event, context);
};
`;

const LOG_LEVEL = "WARN";
let dir: string;
let stage: RunningLocalStage;
let lambda: LambdaClient;
const entries: LocalLogEntry[] = [];
const waiters = new Set<() => void>();

/** Resolves once the log holds an entry matching `test` (checked on every new entry). */
function logged(test: (entry: LocalLogEntry) => boolean): Promise<LocalLogEntry> {
  return new Promise((resolve) => {
    const check = () => {
      const found = entries.find(test);
      if (found === undefined) return;
      waiters.delete(check);
      resolve(found);
    };
    waiters.add(check);
    check();
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "stage-environments-"));
  const distDir = join(dir, "dist");
  await bundleFunctions(distDir);
  await rename(join(distDir, "subscriber", "index.mjs"), join(distDir, "subscriber", "real.mjs"));
  await writeFile(join(distDir, "subscriber", "index.mjs"), WRAPPER);
  stage = await startLocalStage({
    port: 0,
    stateDir: join(dir, "state"),
    distDir,
    asyncRetryDelaysMs: [20, 20],
    functionTimeoutMs: 3000,
    functionEnvironment: { [ENV.logLevel]: LOG_LEVEL },
    onLog: (entry) => {
      entries.push(entry);
      for (const waiter of [...waiters]) waiter();
    },
  });
  lambda = new LambdaClient({
    endpoint: stage.outputs.endpoints.lambda,
    region: stage.outputs.region,
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    maxAttempts: 1,
  });
}, 120_000);

afterAll(async () => {
  lambda?.destroy();
  await stage?.stop();
  await rm(dir, { recursive: true, force: true });
});

const payload = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const decoded = (bytes: Uint8Array | undefined) =>
  JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;

async function variable(name: string): Promise<unknown> {
  const answer = await lambda.send(
    new InvokeCommand({ FunctionName: "subscriber", Payload: payload({ variable: name }) }),
  );
  return decoded(answer.Payload).value;
}

/** A client that has connected through $connect and echoes `message` to itself. */
async function echo(message: string): Promise<Record<string, unknown>> {
  const socket = new WebSocket(stage.outputs.websocketUrl);
  try {
    await new Promise((resolve, reject) => {
      socket.once("open", resolve);
      socket.once("error", reject);
    });
    const reply = new Promise<string>((resolve) =>
      socket.once("message", (data) => resolve(data.toString())),
    );
    socket.send(JSON.stringify({ action: "echo", message }));
    return JSON.parse(await reply) as Record<string, unknown>;
  } finally {
    socket.terminate();
  }
}

describe("local stage execution environments", () => {
  it("times out a function that never yields, while the gateway keeps serving other clients", async () => {
    let runawayEnded = false;
    const runaway = lambda
      .send(new InvokeCommand({ FunctionName: "subscriber", Payload: payload({ spin: true }) }))
      .finally(() => {
        runawayEnded = true;
      });
    await logged((entry) => entry.type === "log" && entry.line.includes("spinning"));
    // Positive control: a whole connect, echo through the message function and @connections.
    expect(await echo("still here")).toMatchObject({ message: "still here" });
    expect(runawayEnded).toBe(false);
    const answer = await runaway;
    expect(answer.FunctionError).toBe("Unhandled");
    expect(decoded(answer.Payload)).toMatchObject({
      errorType: "Sandbox.Timedout",
      errorMessage: expect.stringMatching(/Task timed out after 3.00 seconds/),
    });
    // A fresh environment serves the next call.
    expect(await variable(ENV.logLevel)).toBe(LOG_LEVEL);
  });

  it("gives every function the overrides of functionEnvironment and the Lambda endpoint", async () => {
    expect(await variable(ENV.logLevel)).toBe(LOG_LEVEL);
    expect(await variable("AWS_ENDPOINT_URL_LAMBDA")).toBe(stage.outputs.endpoints.lambda);
    // Positive control: a variable the stage sets and nobody overrode keeps its value.
    expect(await variable(ENV.connectionsBucket)).toBe(stage.outputs.connectionsBucket);
  });
});

describe("local stage Lambda Invoke API", () => {
  it("runs an Event invocation by its full name and answers 202 before it ends", async () => {
    const answer = await lambda.send(
      new InvokeCommand({
        FunctionName: "websocket-stages-local-subscriber",
        InvocationType: "Event",
        Payload: payload({ variable: ENV.logLevel }),
      }),
    );
    expect(answer.StatusCode).toBe(202);
    const requestId = answer.$metadata.requestId;
    expect(
      await logged(
        (entry) =>
          entry.type === "invocation" && entry.requestId === requestId && entry.result === "ok",
      ),
    ).toMatchObject({ function: "subscriber", trigger: "invoke", attempt: 1 });
  });

  it("retries a failing Event invocation twice, then hands it to the failure destination", async () => {
    const answer = await lambda.send(
      new InvokeCommand({
        FunctionName: "subscriber",
        InvocationType: "Event",
        Payload: payload({ fail: "page lost" }),
      }),
    );
    const requestId = answer.$metadata.requestId;
    const said = await logged(
      (entry) =>
        entry.type === "log" &&
        entry.requestId === requestId &&
        entry.line.includes("failure destination"),
    );
    expect(said).toMatchObject({ function: "subscriber", stream: "stderr" });
    expect(
      entries
        .filter((entry) => entry.type === "invocation" && entry.requestId === requestId)
        .map((entry) => entry.type === "invocation" && [entry.attempt, entry.result]),
    ).toEqual([
      [1, "error"],
      [2, "error"],
      [3, "error"],
    ]);
    expect(stage.asyncFailures.at(-1)).toMatchObject({
      requestContext: { requestId, condition: "RetriesExhausted", approximateInvokeCount: 3 },
      requestPayload: { fail: "page lost" },
      responsePayload: { errorType: "Error", errorMessage: "page lost" },
    });
  });

  it("refuses an unknown function", async () => {
    await expect(
      lambda.send(new InvokeCommand({ FunctionName: "websocket-stages-local-nothing" })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  it("is listed by `npm run outputs -- local --json` as the lambda endpoint", async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", "scripts/outputs.ts", "local", "--json"],
      { env: { ...process.env, [STATE_DIR_ENV]: join(dir, "state") } },
    );
    expect(JSON.parse(stdout)).toMatchObject({
      endpoints: { lambda: stage.outputs.endpoints.lambda },
    });
  });
});
