import {
  ForbiddenException,
  LimitExceededException,
} from "@aws-sdk/client-apigatewaymanagementapi";
import type { SNSMessageAttributes } from "aws-lambda";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { FANOUT, LIMITS, MESSAGE_ATTRIBUTES, REDELIVERY } from "../contract.js";
import { mockDispatcherServices } from "../fixtures/aws.js";
import { lambdaContext, snsEvent, snsRecord } from "../fixtures/events.js";
import { inFunctionEnvironment } from "../fixtures/function-environment.js";
import { captureLogsPerTest } from "../fixtures/logs.js";

// The handlers send with the SDK's clients, which the in-memory fakes answer (see the fixture).
vi.mock("../lib/fast-poster.js", () => import("../fixtures/sdk-senders.js"));
vi.mock("../lib/object-store.js", () => import("../fixtures/sdk-senders.js"));
vi.mock("../lib/lambda-invoker.js", () => import("../fixtures/sdk-senders.js"));
vi.mock("../lib/topic-publisher.js", () => import("../fixtures/sdk-senders.js"));

const services = mockDispatcherServices("subscriber");
const { bucket, gateway, topic, lambda } = services;
const logs = captureLogsPerTest();
let subscriber: typeof import("./subscriber.js");
let worker: typeof import("./fanout.js").handler;

const A = "A+/=aa";
const B = "b+/=BB";

inFunctionEnvironment("subscriber", async () => {
  subscriber = await import("./subscriber.js");
  // The worker reads a subset of the subscriber's environment.
  ({ handler: worker } = await import("./fanout.js"));
});
beforeEach(() => {
  services.reset();
  bucket.register(A, B);
  gateway.open(A, B);
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
    expect(result).toEqual({
      records: 3,
      delivered: 6,
      gone: 0,
      failed: 0,
      handedOn: 0,
      dispatched: 0,
      shards: 0,
      tooLarge: 0,
      misaddressed: 0,
    });
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
    const forbidden = new ForbiddenException({
      message: "Forbidden",
      $metadata: { httpStatusCode: 403 },
    });
    gateway.failures.set(A, forbidden);
    gateway.failures.set(B, forbidden);

    await expect(invoke("kept")).rejects.toThrow(subscriber.UndeliveredMessageError);
  });

  it("does not throw when only some connections fail, and counts them", async () => {
    gateway.failures.set(
      B,
      new ForbiddenException({ message: "Forbidden", $metadata: { httpStatusCode: 403 } }),
    );

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

  it("hands 2,500 connections to three workers, which reach each open one once and drop the Gone", async () => {
    const ids = Array.from({ length: 2500 }, (_, i) => `sns${i}/=`);
    const gone = ids.filter((_, i) => i % 25 === 0);
    bucket.register(...ids);
    gateway.open(...ids.filter((id) => !gone.includes(id)));

    const result = await invoke("everyone");

    expect(result).toMatchObject({ delivered: 0, dispatched: 2502, shards: 3, handedOn: 0 });
    expect(bucket.listCalls).toBe(3);
    expect(gateway.postOrder).toEqual([]);
    expect(lambda.queued).toHaveLength(3);

    await lambda.runQueued((event) => worker(event, lambdaContext("fanout")), FANOUT.maxRetries);

    expect(lambda.failureQueue).toEqual([]);
    for (const id of [A, B, ...ids]) {
      expect(gateway.framesOf(id)).toEqual(gone.includes(id) ? [] : ["everyone"]);
    }
    expect(gateway.postOrder).toHaveLength(2502);
    expect(bucket.connectionIds()).toEqual(
      [A, B, ...ids.filter((id) => !gone.includes(id))].sort(),
    );
    const shards = logs.withMessage(/^Fan-out shard done$/);
    // One accounting line per shard; every id counted once.
    expect(shards.map((line) => line.connections).sort()).toEqual([1000, 1000, 502]);
    for (const line of shards) {
      expect(Number(line.delivered) + Number(line.gone)).toBe(line.connections);
      expect([line.failed, line.undelivered]).toEqual([0, 0]);
    }
    const sum = (key: string) => shards.reduce((total, line) => total + Number(line[key]), 0);
    expect([sum("delivered"), sum("gone")]).toEqual([2402, 100]);
  });

  it("retries a shard whose worker fails, then keeps it in the failure queue; other shards get one copy", async () => {
    const ids = Array.from({ length: 2500 }, (_, i) => `sns${i}/=`);
    bucket.register(...ids);
    gateway.open(...ids);

    await invoke("everyone");
    const failing = (lambda.queued[2]?.event as { connectionIds: string[] } | undefined)
      ?.connectionIds;
    expect(failing).toHaveLength(502);
    for (const id of failing ?? []) {
      gateway.failures.set(
        id,
        new ForbiddenException({ message: "denied", $metadata: { httpStatusCode: 403 } }),
      );
    }

    const { attempts } = await lambda.runQueued(
      (event) => worker(event, lambdaContext("fanout")),
      FANOUT.maxRetries,
    );

    // Two shards once, the failing one three times (the first try and Lambda's two retries).
    expect(attempts).toBe(2 + 1 + FANOUT.maxRetries);
    expect(lambda.failureQueue).toHaveLength(1);
    expect(lambda.failureQueue[0]?.invocation.event).toMatchObject({
      message: "everyone",
      connectionIds: failing,
    });
    expect(lambda.failureQueue[0]?.error).toMatch(/reached none of its 502 connections/);
    for (const id of [A, B, ...ids]) {
      expect(gateway.framesOf(id)).toEqual(failing?.includes(id) ? [] : ["everyone"]);
    }
  });

  it("keeps an addressed message in-process however large the registry", async () => {
    bucket.register(...Array.from({ length: 2500 }, (_, i) => `sns${i}/=`));

    const result = await invokeRecord("just A", addressedTo([A]));

    expect(result).toMatchObject({ delivered: 1, dispatched: 0, shards: 0 });
    expect(lambda.calls).toBe(0);
    expect(bucket.listCalls).toBe(0);
    expect(gateway.framesOf(A)).toEqual(["just A"]);
  });
});

function addressedTo(ids: unknown, extra: SNSMessageAttributes = {}): SNSMessageAttributes {
  return {
    [MESSAGE_ATTRIBUTES.connectionIds]: {
      Type: "String.Array",
      Value: typeof ids === "string" ? ids : JSON.stringify(ids),
    },
    ...extra,
  };
}

function invokeRecord(message: string, attributes: SNSMessageAttributes) {
  return subscriber.handler(
    { Records: [snsRecord(message, "addressed-0001", attributes)] },
    lambdaContext("subscriber"),
  );
}

const throttled = () =>
  new LimitExceededException({ message: "Rate exceeded", $metadata: { httpStatusCode: 429 } });

describe("subscriber handler: addressed messages", () => {
  const BYSTANDER = "bystander/+=";
  beforeEach(() => {
    bucket.register(BYSTANDER);
    gateway.open(BYSTANDER);
  });

  it("reaches only the addressed connections; the bystander gets nothing, though a broadcast reaches it", async () => {
    const result = await invokeRecord("for A and B", addressedTo([A, B]));

    expect(result).toMatchObject({ delivered: 2, gone: 0, failed: 0 });
    expect(gateway.framesOf(A)).toEqual(["for A and B"]);
    expect(gateway.framesOf(B)).toEqual(["for A and B"]);
    expect(gateway.framesOf(BYSTANDER)).toEqual([]);
    expect(bucket.listCalls).toBe(0);

    // Positive control: the bystander is connected and does receive a normal broadcast.
    await invoke("for everyone");
    expect(gateway.framesOf(BYSTANDER)).toEqual(["for everyone"]);
  });

  it("delivers once to an id the address names twice", async () => {
    await invokeRecord("once", addressedTo([A, A, A]));
    expect(gateway.framesOf(A)).toEqual(["once"]);
  });

  it("removes an addressed id that is Gone, and counts one never registered as Gone too", async () => {
    bucket.register("left=");

    const result = await invokeRecord("x", addressedTo([A, "left=", "unknown="]));

    expect(result).toMatchObject({ delivered: 1, gone: 2 });
    expect(bucket.connectionIds()).not.toContain("left=");
  });

  it.each([
    [
      "a String, not a String.Array",
      { Type: "String", Value: JSON.stringify(["A"]) },
      /String\.Array/,
    ],
    ["not JSON", { Type: "String.Array", Value: "[A, B" }, /not a JSON array/],
    ["a JSON object", { Type: "String.Array", Value: "{}" }, /not a JSON array/],
    ["an empty array", { Type: "String.Array", Value: "[]" }, /names no connection id/],
    ["a number among the ids", { Type: "String.Array", Value: "[1]" }, /item 0 is number/],
    [
      "an id with a space",
      { Type: "String.Array", Value: '["a b"]' },
      /item 0 .* is not a connection id/,
    ],
    [
      "too many ids",
      {
        Type: "String.Array",
        Value: JSON.stringify(
          Array.from({ length: LIMITS.addressedConnectionsMax + 1 }, (_, i) => `c${i}`),
        ),
      },
      /over the limit of 1000/,
    ],
  ])(
    "sends a message whose address is %s to no one, and says why in the log",
    async (_, attribute, problem) => {
      const result = await invokeRecord("misaddressed", {
        [MESSAGE_ATTRIBUTES.connectionIds]: attribute,
      });

      expect(result).toMatchObject({ misaddressed: 1, delivered: 0 });
      expect(gateway.postOrder).toEqual([]);
      expect(logs.withMessage(/address is malformed/)).toEqual([
        expect.objectContaining({ level: "ERROR", problem: expect.stringMatching(problem) }),
      ]);
    },
  );

  it("rejects a malformed attempt number instead of guessing", async () => {
    const result = await invokeRecord(
      "x",
      addressedTo([A], { [MESSAGE_ATTRIBUTES.deliveryAttempt]: { Type: "Number", Value: "0" } }),
    );
    expect(result).toMatchObject({ misaddressed: 1 });
    expect(gateway.postOrder).toEqual([]);
  });
});

describe("subscriber handler: redelivery", () => {
  function redelivered(attempt: number, firstAttemptAt = Date.now()): SNSMessageAttributes {
    return {
      [MESSAGE_ATTRIBUTES.deliveryAttempt]: { Type: "Number", Value: String(attempt) },
      [MESSAGE_ATTRIBUTES.firstAttemptAt]: { Type: "Number", Value: String(firstAttemptAt) },
    };
  }
  const attributesOf = (index: number) => topic.published[index]?.MessageAttributes ?? {};

  it("hands a broadcast's still-failing connection on as attempt 2, dated from the publish", async () => {
    gateway.failures.set(B, throttled());
    const event = snsEvent("news");

    const result = await subscriber.handler(event, lambdaContext("subscriber"));

    expect(result).toMatchObject({ delivered: 1, handedOn: 1 });
    expect(gateway.framesOf(A)).toEqual(["news"]);
    expect(topic.published).toHaveLength(1);
    expect(topic.published[0]?.Message).toBe("news");
    expect(attributesOf(0)[MESSAGE_ATTRIBUTES.connectionIds]?.StringValue).toBe(
      JSON.stringify([B]),
    );
    expect(attributesOf(0)[MESSAGE_ATTRIBUTES.deliveryAttempt]?.StringValue).toBe("2");
    expect(attributesOf(0)[MESSAGE_ATTRIBUTES.firstAttemptAt]?.StringValue).toBe(
      String(Date.parse(event.Records[0]?.Sns.Timestamp ?? "")),
    );
  });

  it("delivers a handed-on copy to its connection once it recovers", async () => {
    const result = await invokeRecord("news", addressedTo([B], redelivered(2)));

    expect(result).toMatchObject({ delivered: 1, handedOn: 0 });
    expect(gateway.framesOf(B)).toEqual(["news"]);
    expect(gateway.framesOf(A)).toEqual([]);
  });

  it("hands a copy that still fails on with the next attempt number", async () => {
    gateway.failures.set(B, throttled());
    const first = Date.now() - 1000;

    await invokeRecord("news", addressedTo([B], redelivered(3, first)));

    expect(attributesOf(0)[MESSAGE_ATTRIBUTES.deliveryAttempt]?.StringValue).toBe("4");
    expect(attributesOf(0)[MESSAGE_ATTRIBUTES.firstAttemptAt]?.StringValue).toBe(String(first));
  });

  it(`at attempt ${REDELIVERY.maxAttempts} with no progress, throws so the on-failure queue keeps it`, async () => {
    gateway.failures.set(B, throttled());

    await expect(
      invokeRecord("news", addressedTo([B], redelivered(REDELIVERY.maxAttempts))),
    ).rejects.toThrow(/redelivery attempts exhausted/);
    expect(topic.published).toEqual([]);
  });

  it(`at attempt ${REDELIVERY.maxAttempts} with progress, hands on the shrunken rest without throwing`, async () => {
    gateway.failures.set(B, throttled());

    const result = await invokeRecord(
      "news",
      addressedTo([A, B], redelivered(REDELIVERY.maxAttempts)),
    );

    expect(result).toMatchObject({ delivered: 1, handedOn: 1 });
    expect(attributesOf(0)[MESSAGE_ATTRIBUTES.connectionIds]?.StringValue).toBe(
      JSON.stringify([B]),
    );
    expect(attributesOf(0)[MESSAGE_ATTRIBUTES.deliveryAttempt]?.StringValue).toBe(
      String(REDELIVERY.maxAttempts),
    );
  });

  it("throws for a copy past the policy's age without posting it", async () => {
    await expect(
      invokeRecord(
        "stale news",
        addressedTo([A], redelivered(2, Date.now() - REDELIVERY.maxAgeMs - 1)),
      ),
    ).rejects.toThrow(/expired/);
    expect(gateway.postOrder).toEqual([]);
  });

  it("throws when nothing was delivered and the hand-off could not be published", async () => {
    gateway.failures.set(A, throttled());
    gateway.failures.set(B, throttled());
    topic.failure = new Error("SNS unavailable");

    await expect(invoke("kept")).rejects.toThrow(/hand-off failed/);
  });

  it("does not throw (which would duplicate) when some were delivered and the hand-off failed", async () => {
    gateway.failures.set(B, throttled());
    topic.failure = new Error("SNS unavailable");

    await expect(invoke("partly")).resolves.toMatchObject({ delivered: 1, handedOn: 0 });
    expect(logs.withMessage(/could not be handed on/)).toEqual([
      expect.objectContaining({ level: "ERROR", connectionIds: [B] }),
    ]);
  });
});
