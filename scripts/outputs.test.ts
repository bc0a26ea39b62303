import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STATE_DIR_ENV } from "../functions/contract.js";
import { recordStageOutputs } from "../smoke/outputs.js";
import { SAMPLE_DEV_OUTPUTS } from "../smoke/sample-outputs.js";

const run = promisify(execFile);
let stateDir: string;

async function outputs(...args: string[]) {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ["--import", "tsx", "scripts/outputs.ts", ...args],
      { env: { ...process.env, [STATE_DIR_ENV]: stateDir } },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), "outputs-cli-"));
});

afterAll(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

describe("npm run outputs", () => {
  it("exits 1 without a stack trace when the stage is not up", async () => {
    const result = await outputs("local", "--json");
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("npm start");
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it("exits 2 and lists the stages for an unknown stage", async () => {
    const result = await outputs("qa");
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("use one of local, dev, staging, prod");
  });

  it("prints one JSON object of the recorded outputs with --json", async () => {
    const recorded = SAMPLE_DEV_OUTPUTS;
    await recordStageOutputs(recorded, { env: { [STATE_DIR_ENV]: stateDir } });
    const result = await outputs("dev", "--json");
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(recorded);
  });
});
