import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { STATE_DIR_ENV } from "../functions/contract.js";
import { TestClient } from "../smoke/client.js";
import { publish } from "../smoke/publish.js";
import { runSmoke, type SmokeResult } from "../smoke/smoke.js";
import { bundleFunctions } from "./bundle.js";
import { type LocalStageOptions, type RunningLocalStage, startLocalStage } from "./local/stage.js";

/**
 * The smoke test against real local stages (the functions' bundles behind the local gateway, S3
 * and SNS), as `npm test` runs it: one that works, one whose topic has no subscriber, none at all.
 */

const run = promisify(execFile);
// Each test starts a local stage (cold starts of every bundle) and runs up to six steps: on a
// loaded 2-core machine that takes longer than the default 20 s.
vi.setConfig({ testTimeout: 60_000 });
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
    const result = await runSmoke(stage.outputs, { timeoutMs: 5000, broadcast: true });
    expect(statuses(result)).toEqual([
      "1 connect: passed",
      "2 reply: passed",
      "3 sns-delivery: passed",
      "4 broadcast: passed",
      "5 malformed-frame: passed",
      "6 close: passed",
    ]);
    expect(result.steps[0]?.detail).toContain("registry +2");
    expect(result.steps[4]?.detail).toMatch(/^error not_json after/);
    expect(result.steps[5]?.detail).toBe("both closed with 1000, registry empty again");
    expect(result.latencies.snsDeliveryMs?.a).toBeGreaterThan(0);
  });

  it("fails at step 3, naming the subscriber's logs, when the topic has no subscriber", async () => {
    const { stage } = await start({ topicSubscriber: false });
    const result = await runSmoke(stage.outputs, { timeoutMs: 4000, broadcast: true });
    expect(result.passed).toBe(false);
    expect(statuses(result)).toEqual([
      "1 connect: passed",
      "2 reply: passed",
      "3 sns-delivery: failed",
      "4 broadcast: skipped",
      "5 malformed-frame: skipped",
      "6 close: skipped",
    ]);
    expect(result.steps[2]?.failure).toMatchObject({
      received: "within 4000 ms nothing arrived",
      next: "check the topic's subscriber: `npm run logs -- local --function subscriber`",
    });
  });
});

describe("smoke traffic and bystanders on a local stage", () => {
  it("with prod's profile, a bystander receives nothing; it does receive a normal broadcast", async () => {
    const { stage } = await start();
    const bystander = await TestClient.connect(stage.outputs.websocketUrl, { timeoutMs: 5000 });
    try {
      const result = await runSmoke(stage.outputs, { timeoutMs: 5000, broadcast: false });
      expect(result.passed).toBe(true);
      expect(statuses(result)).toContain("4 broadcast: skipped");

      // Positive control: the bystander is connected and hears what is meant for everyone. The
      // control goes through the same topic and subscriber after the smoke run, so smoke frames
      // meant for it would have arrived first.
      const control = `control-${Date.now()}`;
      await publish(stage.outputs, control);
      await bystander.next((frame) => frame.data === control, {
        timeoutMs: 5000,
        expected: "the bystander to receive the control broadcast",
      });
      expect(bystander.frames.map((frame) => frame.data)).toEqual([control]);
    } finally {
      await bystander.close(5000);
    }
  });

  it("with the broadcast profile, a bystander receives the broadcast step's frame and nothing else", async () => {
    const { stage } = await start();
    const bystander = await TestClient.connect(stage.outputs.websocketUrl, { timeoutMs: 5000 });
    try {
      const result = await runSmoke(stage.outputs, { timeoutMs: 5000, broadcast: true });
      expect(result.passed).toBe(true);
      const control = `control-${Date.now()}`;
      await publish(stage.outputs, control);
      await bystander.next((frame) => frame.data === control, {
        timeoutMs: 5000,
        expected: "the bystander to receive the control broadcast",
      });
      const received = bystander.frames.map((frame) => frame.data);
      expect(received).toHaveLength(2);
      expect(received[0]).toMatch(/^\{"message":"smoke-broadcast-/);
      expect(received[1]).toBe(control);
    } finally {
      await bystander.close(5000);
    }
  });
});

describe("npm run smoke", () => {
  it("exits 0 and prints a line per step and a PASS verdict for a working stage", async () => {
    const { stateDir } = await start();
    const result = await smokeCommand(stateDir, "--stage", "local", "--timeout", "5000");
    expect(result.code).toBe(0);
    const lines = result.stdout.split("\n");
    expect(lines.filter((line) => /^ok {3}\d\/6 .* — [\d.]+ ms: /.test(line))).toHaveLength(6);
    expect(result.stdout).toMatch(/^PASS local: 6\/6 steps in [\d.]+ ms$/m);
    expect(result.stdout).toMatch(/^ {2}SNS → client +A [\d.]+ ms, B [\d.]+ ms$/m);
  });

  it("exits 1 with one JSON result naming step 3 when delivery is broken", async () => {
    const { stateDir } = await start({ topicSubscriber: false });
    const result = await smokeCommand(stateDir, "--stage", "local", "--timeout", "4000", "--json");
    expect(result.code).toBe(1);
    const parsed = JSON.parse(result.stdout) as SmokeResult;
    expect(parsed.passed).toBe(false);
    expect(parsed.steps.find((step) => step.status === "failed")?.name).toBe("sns-delivery");
    expect(result.stderr).toContain("FAIL 3/6 publish a nonce addressed to A and B");
    expect(result.stderr).toContain("FAIL local: step 3 (sns-delivery) failed after 2 passed");
  });

  it("skips the broadcast step with --no-broadcast and still passes", async () => {
    const { stateDir } = await start();
    const result = await smokeCommand(
      stateDir,
      "--stage",
      "local",
      "--timeout",
      "5000",
      "--no-broadcast",
      "--json",
    );
    expect(result.code).toBe(0);
    const parsed = JSON.parse(result.stdout) as SmokeResult;
    expect(parsed.steps.find((step) => step.name === "broadcast")?.status).toBe("skipped");
    expect(result.stderr).toContain("without a client broadcast");
  });

  it("exits 1 without a stack trace when no stage is running", async () => {
    const result = await smokeCommand(join(dir, "no-stage"), "--stage", "local");
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("The local stage is not running. Start it with `npm start`");
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
