import { ForbiddenException } from "@aws-sdk/client-apigatewaymanagementapi";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { LIMITS } from "../contract.js";
import { ActionRecorder, declaredActions, mockGateway, mockS3 } from "../fixtures/aws.js";
import { functionEnvironment, lambdaContext, snsEvent } from "../fixtures/events.js";
import { LogCapture } from "../fixtures/logs.js";

// The handlers post with the fast poster; here it is swapped for the SDK poster so the in-memory
// gateway behind the SDK client's mock sees the posts. The fast poster's wire is tested in
// fast-poster.test.ts, poster.test.ts and delivery.wire.test.ts, and end to end by the local stage.
vi.mock("../lib/fast-poster.js", async () => {
  const { createManagementClient, SdkPoster } = await import("../lib/poster.js");
  return {
    createFastPoster: (endpoint: string) => new SdkPoster(createManagementClient(endpoint)),
  };
});

const bucket = mockS3();
const gateway = mockGateway();
const recorder = new ActionRecorder();
const logs = new LogCapture();
let subscriber: typeof import("./subscriber.js");

const A = "A+/=aa";
const B = "b+/=BB";

beforeAll(async () => {
  for (const [name, value] of Object.entries(functionEnvironment("subscriber"))) {
    vi.stubEnv(name, value);
  }
  subscriber = await import("./subscriber.js");
});
afterAll(() => vi.unstubAllEnvs());
beforeEach(() => {
  bucket.reset();
  gateway.reset();
  bucket.register(A, B);
  gateway.open(A, B);
  logs.start();
});
afterEach(() => {
  logs.stop();
  recorder.record(bucket.mock, gateway.mock);
});

function invoke(...messages: string[]) {
  return subscriber.handler(snsEvent(...messages), lambdaContext("subscriber"));
}

describe("subscriber handler", () => {
  it("sends every record's Message verbatim to every connection", async () => {
    const messages = ['{"kind":"json","n":1}', "plain text, not JSON", ""];

    const result = await invoke(...messages);

    expect(gateway.framesOf(A)).toEqual(messages);
    expect(gateway.framesOf(B)).toEqual(messages);
    expect(result).toEqual({ records: 3, delivered: 6, gone: 0, failed: 0, tooLarge: 0 });
  });

  it("logs each record's result with its MessageId", async () => {
    const event = snsEvent("hello");
    await subscriber.handler(event, lambdaContext("subscriber"));

    expect(logs.withMessage(/SNS message delivered/)).toEqual([
      expect.objectContaining({
        messageId: event.Records[0]?.Sns.MessageId,
        delivered: 2,
        gone: 0,
        failed: 0,
      }),
    ]);
  });

  it("reports a message too large for a WebSocket in the log and the count, and still delivers the rest", async () => {
    const big = "x".repeat(LIMITS.messageBytes + 1);

    const result = await invoke(big, "small");

    expect(result.tooLarge).toBe(1);
    expect(gateway.framesOf(A)).toEqual(["small"]);
    expect(logs.withMessage(/too large/)).toEqual([
      expect.objectContaining({
        level: "ERROR",
        bytes: LIMITS.messageBytes + 1,
        limit: LIMITS.messageBytes,
        messageId: expect.any(String),
      }),
    ]);
  });

  it("delivers a message of exactly the limit", async () => {
    const result = await invoke("y".repeat(LIMITS.messageBytes));

    expect(result).toMatchObject({ delivered: 2, tooLarge: 0 });
  });

  it("removes the stale connection that answered Gone", async () => {
    bucket.register("stale/+=");

    const result = await invoke("hi");

    expect(result).toMatchObject({ delivered: 2, gone: 1 });
    expect(bucket.connectionIds()).toEqual([A, B].sort());
  });

  it("throws, so Lambda retries the message, when the registry cannot be read", async () => {
    bucket.failListCall = 1;

    await expect(invoke("kept")).rejects.toThrow(
      expect.objectContaining({
        name: "UndeliveredMessageError",
        message: expect.stringMatching(/reached no connection/),
      }),
    );
    expect(logs.withMessage(/registry could not be read/)).toHaveLength(1);
  });

  it("throws when every post fails, since nothing was delivered", async () => {
    const forbidden = new ForbiddenException({ message: "Forbidden", $metadata: {} });
    gateway.failures.set(A, forbidden);
    gateway.failures.set(B, forbidden);

    await expect(invoke("kept")).rejects.toThrow(subscriber.UndeliveredMessageError);
  });

  it("does not throw when only some connections fail, and counts them", async () => {
    gateway.failures.set(B, new ForbiddenException({ message: "Forbidden", $metadata: {} }));

    const result = await invoke("partly");

    expect(result).toMatchObject({ delivered: 1, failed: 1 });
    expect(logs.withMessage(/could not be reached/)).toEqual([
      expect.objectContaining({
        failed: 1,
        sample: [expect.objectContaining({ connectionId: B })],
      }),
    ]);
  });

  it("succeeds with nothing to do when no one is connected", async () => {
    bucket.objects.clear();

    await expect(invoke("nobody")).resolves.toMatchObject({ delivered: 0, failed: 0 });
  });

  it("reaches all of 2500 connections", async () => {
    const ids = Array.from({ length: 2500 }, (_, i) => `sns${i}/=`);
    bucket.register(...ids);
    gateway.open(...ids);

    const result = await invoke("everyone");

    expect(result.delivered).toBe(2502);
    expect(bucket.listCalls).toBe(3);
  });

  // Runs last: it checks what every test above made the handler send.
  it("sends exactly the AWS actions FUNCTIONS.subscriber.permissions grants", () => {
    recorder.record(bucket.mock, gateway.mock);
    expect(recorder.actions()).toEqual(declaredActions("subscriber"));
  });
});
