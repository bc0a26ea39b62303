import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { STATE_DIR_ENV } from "../functions/contract.js";
import { TestClient } from "../smoke/client.js";
import { echoReplyOf } from "../smoke/frames.js";
import type { RunningLocalStage } from "./local/stage.js";
import { type StageFixture, startStageFixture } from "./local/stage-fixture.js";

/** `npm run send-data` against a local stage: addressed to one client, then to everyone. */

const run = promisify(execFile);
vi.setConfig({ testTimeout: 60_000 });
let fixture: StageFixture;
let stage: RunningLocalStage;

beforeAll(async () => {
  fixture = await startStageFixture("send-data-");
  stage = fixture.stage;
}, 120_000);

afterAll(() => fixture?.remove());

async function sendData(...args: string[]) {
  const { stdout } = await run(
    process.execPath,
    ["--import", "tsx", "scripts/send-data.ts", "local", ...args],
    { env: { ...process.env, [STATE_DIR_ENV]: fixture.stateDir } },
  );
  return stdout;
}

async function connectionIdOf(client: TestClient): Promise<string> {
  client.send(JSON.stringify({ action: "echo", message: "who am I" }));
  const reply = await client.next((frame) => echoReplyOf(frame.data, "who am I") !== undefined, {
    timeoutMs: 10_000,
    expected: "an echo reply naming the connection id",
  });
  return echoReplyOf(reply.data, "who am I") as string;
}

describe("npm run send-data --to", () => {
  it("reaches only the addressed client; the other receives the next, unaddressed message", async () => {
    const timeoutMs = 10_000;
    const a = await TestClient.connect(stage.outputs.websocketUrl, { timeoutMs });
    const b = await TestClient.connect(stage.outputs.websocketUrl, { timeoutMs });
    try {
      const idA = await connectionIdOf(a);
      const markB = b.mark();

      const stdout = await sendData('{"for":"A"}', "--to", idA, "--json");
      expect(JSON.parse(stdout)).toMatchObject({ connectionIds: [idA] });
      await a.next((frame) => frame.data === '{"for":"A"}', {
        timeoutMs,
        expected: "A to receive the message addressed to it",
      });

      // Positive control: B is listening, and an unaddressed message reaches it (and A).
      await sendData('{"for":"everyone"}');
      await b.next((frame) => frame.data === '{"for":"everyone"}', {
        timeoutMs,
        expected: "B to receive the unaddressed message",
      });
      expect(b.framesSince(markB).map((frame) => frame.data)).toEqual(['{"for":"everyone"}']);
    } finally {
      await Promise.all([a.close(timeoutMs), b.close(timeoutMs)]);
    }
  });

  it("refuses an id that cannot be a connection id, with exit code 2", async () => {
    const failed = await sendData("{}", "--to", "not an id").catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect(failed).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("--to must name connection ids"),
    });
  });
});
