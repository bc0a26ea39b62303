import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { STATE_DIR_ENV } from "../functions/contract.js";
import { runSmoke, type SmokeResult } from "../smoke/smoke.js";
import { bundleFunctions } from "./bundle.js";
import { type LocalStageOptions, type RunningLocalStage, startLocalStage } from "./local/stage.js";

/**
 * The smoke test against real local stages (the functions' bundles behind the local gateway, S3
 * and SNS), as `npm test` runs it: one that works, one whose topic has no subscriber, none at all.
 */

const run = promisify(execFile);
let dir: string;
let distDir: string;
let stage: RunningLocalStage | undefined;
let stateCount = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "smoke-"));
  // Built from the current source into this test's own folder: never stale, never racing dist/.
  distDir = join(dir, "dist");
  await bundleFunctions(distDir);
}, 120_000);

afterEach(async () => {
  await stage?.stop();
  stage = undefined;
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function start(options: Partial<LocalStageOptions> = {}) {
  stateCount += 1;
  const stateDir = join(dir, `state-${stateCount}`);
  stage = await startLocalStage({ port: 0, stateDir, distDir, ...options });
  return { stage, stateDir };
}

/** `npm run smoke` as CI runs it, against the state dir of a stage this process serves. */
async function smokeCommand(stateDir: string, ...args: string[]) {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ["--import", "tsx", "scripts/smoke.ts", ...args],
      { env: { ...process.env, [STATE_DIR_ENV]: stateDir } },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

function statuses(result: SmokeResult) {
  return result.steps.map((step) => `${step.number} ${step.name}: ${step.status}`);
}

describe("the smoke test against a local stage", () => {
  it("passes every step, and closing leaves the registry empty", async () => {
    const { stage } = await start();
    const result = await runSmoke(stage.outputs, { timeoutMs: 5000 });
    expect(statuses(result)).toEqual([
      "1 connect: passed",
      "2 sns-delivery: passed",
      "3 broadcast: passed",
      "4 malformed-frame: passed",
      "5 close: passed",
    ]);
    expect(result.steps[0]?.detail).toContain("registry +2");
    expect(result.steps[3]?.detail).toMatch(/^error not_json after/);
    expect(result.steps[4]?.detail).toBe("both closed with 1000, registry empty again");
    expect(result.latencies.snsDeliveryMs?.a).toBeGreaterThan(0);
  });

  it("fails at step 2, naming the subscriber's logs, when the topic has no subscriber", async () => {
    const { stage } = await start({ topicSubscriber: false });
    const result = await runSmoke(stage.outputs, { timeoutMs: 2500 });
    expect(result.passed).toBe(false);
    expect(statuses(result)).toEqual([
      "1 connect: passed",
      "2 sns-delivery: failed",
      "3 broadcast: skipped",
      "4 malformed-frame: skipped",
      "5 close: skipped",
    ]);
    expect(result.steps[1]?.failure).toMatchObject({
      received: "within 2500 ms nothing arrived",
      next: "check the topic's subscriber: `npm run logs -- local --function subscriber`",
    });
  });
});

describe("npm run smoke", () => {
  it("exits 0 and prints a line per step and a PASS verdict for a working stage", async () => {
    const { stateDir } = await start();
    const result = await smokeCommand(stateDir, "--stage", "local", "--timeout", "5000");
    expect(result.code).toBe(0);
    const lines = result.stdout.split("\n");
    expect(lines.filter((line) => /^ok {3}\d\/5 .* — [\d.]+ ms: /.test(line))).toHaveLength(5);
    expect(result.stdout).toMatch(/^PASS local: 5\/5 steps in [\d.]+ ms$/m);
    expect(result.stdout).toMatch(/^ {2}SNS → client +A [\d.]+ ms, B [\d.]+ ms$/m);
  });

  it("exits 1 with one JSON result naming step 2 when delivery is broken", async () => {
    const { stateDir } = await start({ topicSubscriber: false });
    const result = await smokeCommand(stateDir, "--stage", "local", "--timeout", "2500", "--json");
    expect(result.code).toBe(1);
    const parsed = JSON.parse(result.stdout) as SmokeResult;
    expect(parsed.passed).toBe(false);
    expect(parsed.steps.find((step) => step.status === "failed")?.name).toBe("sns-delivery");
    expect(result.stderr).toContain("FAIL 2/5 publish a nonce to the topic");
    expect(result.stderr).toContain("FAIL local: step 2 (sns-delivery) failed after 1 passed");
  });

  it("exits 1 without a stack trace when no stage is running", async () => {
    const result = await smokeCommand(join(dir, "no-stage"), "--stage", "local");
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("The local stage is not running. Start it with `npm start`");
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
