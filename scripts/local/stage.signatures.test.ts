import { once } from "node:events";
import { readFile, stat } from "node:fs/promises";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type RunningLocalStage, STAGE_CREDENTIALS_PROFILE } from "./stage.js";
import { type StageFixture, startStageFixture } from "./stage-fixture.js";

/**
 * A strict stage (what a non-loopback --host gets), run on 127.0.0.1: only its own credentials,
 * fresh for the run, are accepted, and its functions — whose SDK clients sign with them — keep
 * working end to end.
 */

let fixture: StageFixture;
let stage: RunningLocalStage;

beforeAll(async () => {
  fixture = await startStageFixture("local-stage-signatures-", { strictSignatures: true });
  stage = fixture.stage;
}, 120_000);

afterAll(() => fixture?.remove());

/** A ws client that resolves with the first frame it receives after `send`. */
async function connect(url: string) {
  const socket = new WebSocket(url);
  await once(socket, "open");
  const frames: string[] = [];
  const waiting: ((frame: string) => void)[] = [];
  socket.on("message", (data) => {
    const frame = String(data);
    const next = waiting.shift();
    if (next === undefined) frames.push(frame);
    else next(frame);
  });
  return {
    socket,
    next: () =>
      new Promise<string>((resolve) => {
        const frame = frames.shift();
        if (frame === undefined) waiting.push(resolve);
        else resolve(frame);
      }),
  };
}

describe("a strict local stage", () => {
  it("writes its credentials to a file only its user reads, as an AWS profile", async () => {
    const file = stage.signatures.credentialsFile ?? "";
    expect(stage.signatures.strict).toBe(true);
    expect(stage.signatures.accessKeyId).toMatch(/^LOCAL[0-9A-F]{16}$/);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readFile(file, "utf8")).toContain(`[${STAGE_CREDENTIALS_PROFILE}]`);
  });

  it("refuses other keys and unsigned requests, serves its own key, and its functions work", async () => {
    const { outputs } = stage;
    const foreign = { accessKeyId: "AKIAANYPROFILE", secretAccessKey: "anything" };
    // The credentials as any SDK, CLI or boto3 client reads them: the file and the profile.
    const own = defaultProvider({
      profile: STAGE_CREDENTIALS_PROFILE,
      filepath: stage.signatures.credentialsFile ?? "",
    });
    const region = outputs.region;
    const snsOwn = new SNSClient({ endpoint: outputs.endpoints?.sns, region, credentials: own });
    const snsForeign = new SNSClient({
      endpoint: outputs.endpoints?.sns,
      region,
      credentials: foreign,
      maxAttempts: 1,
    });
    const s3Foreign = new S3Client({
      endpoint: outputs.endpoints?.s3,
      region,
      credentials: foreign,
      forcePathStyle: true,
      maxAttempts: 1,
    });
    const client = await connect(outputs.websocketUrl);
    try {
      // Echo: the message function's @connections post is signed with the stage's key.
      client.socket.send(JSON.stringify({ action: "echo", message: "me" }));
      const echo = JSON.parse(await client.next()) as { message: string; connectionId: string };
      expect(echo.message).toBe("me");

      await expect(
        snsForeign.send(new PublishCommand({ TopicArn: outputs.topicArn, Message: "x" })),
      ).rejects.toMatchObject({ name: "InvalidClientTokenId" });
      await expect(
        s3Foreign.send(new ListObjectsV2Command({ Bucket: outputs.connectionsBucket })),
      ).rejects.toMatchObject({ name: "InvalidAccessKeyId" });
      const unsigned = await fetch(
        `${outputs.managementEndpoint}/@connections/${encodeURIComponent(echo.connectionId)}`,
        { method: "POST", body: "unsigned" },
      );
      expect(unsigned.status).toBe(403);

      // The stage's own key publishes; the subscriber's S3 list and posts pass verification.
      await snsOwn.send(
        new PublishCommand({ TopicArn: outputs.topicArn, Message: '{"from":"own key"}' }),
      );
      expect(JSON.parse(await client.next())).toEqual({ from: "own key" });
    } finally {
      client.socket.terminate();
      for (const sdk of [snsOwn, snsForeign, s3Foreign]) sdk.destroy();
    }
  });
});

describe("stopping a strict stage", () => {
  it("deletes its credentials file", async () => {
    const file = stage.signatures.credentialsFile ?? "";
    await stage.stop();
    await expect(stat(file)).rejects.toMatchObject({ code: "ENOENT" });
  });
});
