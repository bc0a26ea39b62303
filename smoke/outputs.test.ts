import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { STATE_DIR_ENV, type StageOutputs } from "../functions/contract.js";
import { StageNotUpError } from "./errors.js";
import { clearStageOutputs, recordStageOutputs, resolveStageOutputs } from "./outputs.js";

const localOutputs: StageOutputs = {
  stage: "local",
  region: "us-east-1",
  websocketUrl: "ws://127.0.0.1:3001/local",
  managementEndpoint: "http://127.0.0.1:3001/local",
  topicArn: "arn:aws:sns:us-east-1:000000000000:websocket-stages-local",
  connectionsBucket: "websocket-stages-local-connections",
  connectionsPrefix: "connections/",
  endpoints: {
    s3: "http://127.0.0.1:3002",
    sns: "http://127.0.0.1:3003",
    lambda: "http://127.0.0.1:3004",
  },
};

let root: string;
let location: { root: string; env: NodeJS.ProcessEnv };

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "outputs-test-"));
  location = { root, env: { [STATE_DIR_ENV]: "state" } };
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function exitedPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""]);
  await new Promise((done) => child.on("exit", done));
  if (child.pid === undefined) throw new Error("no pid");
  return child.pid;
}

describe("local stage outputs", () => {
  it("returns what the running local stage recorded", async () => {
    await recordStageOutputs(localOutputs, { ...location, pid: process.pid });
    await expect(resolveStageOutputs("local", location)).resolves.toEqual(localOutputs);
  });

  it("says how to start the local stage when nothing is recorded", async () => {
    const failure = resolveStageOutputs("local", location);
    await expect(failure).rejects.toThrow(StageNotUpError);
    await expect(failure).rejects.toThrow(/npm start/);
  });

  it("treats outputs of an exited local stage as not running", async () => {
    await recordStageOutputs(localOutputs, { ...location, pid: await exitedPid() });
    await expect(resolveStageOutputs("local", location)).rejects.toThrow(/has exited/);
  });

  it("forgets the outputs once cleared", async () => {
    await recordStageOutputs(localOutputs, { ...location, pid: process.pid });
    await clearStageOutputs("local", location);
    await expect(resolveStageOutputs("local", location)).rejects.toThrow(/not running/);
  });
});

describe("deployed stage outputs", () => {
  const devOutputs: StageOutputs = {
    ...localOutputs,
    stage: "dev",
    websocketUrl: "wss://abc123.execute-api.eu-west-1.amazonaws.com/dev",
    endpoints: undefined,
  };

  it("returns the outputs a deploy recorded", async () => {
    await recordStageOutputs(devOutputs, location);
    await expect(resolveStageOutputs("dev", location)).resolves.toMatchObject({
      stage: "dev",
      websocketUrl: devOutputs.websocketUrl,
    });
  });

  it("says how to deploy when the stage has neither recorded outputs nor a synthesized stack", async () => {
    await expect(resolveStageOutputs("staging", location)).rejects.toThrow(
      /npm run deploy -- staging/,
    );
  });

  it("rejects a state file that lacks outputs, naming what is missing", async () => {
    await recordStageOutputs(devOutputs, location);
    await writeFile(
      join(root, "state", "dev.json"),
      JSON.stringify({ outputs: { stage: "dev", region: "eu-west-1" } }),
    );
    await expect(resolveStageOutputs("dev", location)).rejects.toThrow(/missing: websocketUrl/);
  });

  it("rejects a state file recorded for another stage", async () => {
    await recordStageOutputs(devOutputs, location);
    await writeFile(join(root, "state", "prod.json"), JSON.stringify({ outputs: devOutputs }));
    await expect(resolveStageOutputs("prod", location)).rejects.toThrow(/missing: stage/);
  });

  it("rejects a state file that is not JSON", async () => {
    await recordStageOutputs(devOutputs, location);
    await writeFile(join(root, "state", "dev.json"), "{");
    await expect(resolveStageOutputs("dev", location)).rejects.toThrow(/not valid JSON/);
  });
});
