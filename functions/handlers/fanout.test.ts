import {
  ForbiddenException,
  LimitExceededException,
} from "@aws-sdk/client-apigatewaymanagementapi";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { FANOUT_METRICS, MESSAGE_ATTRIBUTES } from "../contract.js";
import { checkLeastPrivilege, mockGateway, mockS3, mockTopic } from "../fixtures/aws.js";
import { lambdaContext } from "../fixtures/events.js";
import { inFunctionEnvironment } from "../fixtures/function-environment.js";
import { captureLogsPerTest } from "../fixtures/logs.js";

// The worker posts with the SDK poster and publishes with the SDK's SNS client, which the
// in-memory gateway and topic answer (see the fixture).
vi.mock("../lib/fast-poster.js", () => import("../fixtures/sdk-senders.js"));
vi.mock("../lib/object-store.js", () => import("../fixtures/sdk-senders.js"));
vi.mock("../lib/topic-publisher.js", () => import("../fixtures/sdk-senders.js"));

const bucket = mockS3();
const gateway = mockGateway();
const topic = mockTopic();
checkLeastPrivilege("fanout", bucket.mock, gateway.mock, topic.mock);
const logs = captureLogsPerTest();
let worker: typeof import("./fanout.js");

inFunctionEnvironment(
  "fanout",
  async () => {
    worker = await import("./fanout.js");
  },
  { POWERTOOLS_SERVICE_NAME: "websocket-stages-dev-fanout" },
);
beforeEach(() => {
  bucket.reset();
  gateway.reset();
  topic.reset();
});

function shard(connectionIds: string[], message = "hello") {
  return {
    message,
    connectionIds,
    postsPerSecond: 10_000,
    shard: { index: 1, count: 3 },
    origin: { function: "subscriber", requestId: "req-1", messageId: "msg-1" },
  };
}

describe("fanout worker", () => {
  it("delivers its shard verbatim, removes the Gone, and accounts for every id in one line and EMF", async () => {
    bucket.register("a", "b", "gone");
    gateway.open("a", "b");

    const result = await worker.handler(
      shard(["a", "b", "gone"], '{"n":1e400}'),
      lambdaContext("fanout"),
    );

    expect(result).toEqual({
      shard: 1,
      shards: 3,
      connections: 3,
      delivered: 2,
      gone: 1,
      failed: 0,
      handedOn: 0,
      undelivered: 0,
    });
    expect(gateway.framesOf("a")).toEqual(['{"n":1e400}']);
    expect(bucket.connectionIds()).toEqual(["a", "b"]);
    expect(logs.withMessage(/^Fan-out shard done$/)).toEqual([
      expect.objectContaining({
        shard: 1,
        shards: 3,
        origin: { function: "subscriber", requestId: "req-1", messageId: "msg-1" },
        delivered: 2,
        gone: 1,
        failed: 0,
        undelivered: 0,
      }),
    ]);
    const emf = logs.lines().filter((line) => "_aws" in line);
    expect(emf).toHaveLength(1);
    expect(emf[0]).toMatchObject({
      [FANOUT_METRICS.delivered]: 2,
      [FANOUT_METRICS.gone]: 1,
      [FANOUT_METRICS.failed]: 0,
      [FANOUT_METRICS.undelivered]: 0,
      service: "websocket-stages-dev-fanout",
      _aws: {
        CloudWatchMetrics: [expect.objectContaining({ Namespace: FANOUT_METRICS.namespace })],
      },
    });
  });

  it("throws when it reached no one, so Lambda retries it and then keeps it", async () => {
    gateway.failures.set(
      "a",
      new ForbiddenException({ message: "denied", $metadata: { httpStatusCode: 403 } }),
    );

    await expect(worker.handler(shard(["a"]), lambdaContext("fanout"))).rejects.toThrow(
      /reached none of its 1 connections.*failure queue/,
    );
  });

  it("does not throw once it reached someone: a retry would post to them again", async () => {
    gateway.open("a");
    gateway.failures.set(
      "b",
      new ForbiddenException({ message: "denied", $metadata: { httpStatusCode: 403 } }),
    );

    await expect(worker.handler(shard(["a", "b"]), lambdaContext("fanout"))).resolves.toMatchObject(
      {
        delivered: 1,
        failed: 1,
      },
    );
  });

  it("hands connections still throttled after its retry passes on for redelivery, and only those", async () => {
    gateway.open("a", "b");
    const throttled = () =>
      new LimitExceededException({ message: "slow down", $metadata: { httpStatusCode: 429 } });
    gateway.failures.set("b", throttled());

    const result = await worker.handler(shard(["a", "b"], "news"), lambdaContext("fanout"));

    expect(result).toMatchObject({ delivered: 1, handedOn: 1, undelivered: 0 });
    expect(gateway.framesOf("a")).toEqual(["news"]);
    expect(topic.published).toHaveLength(1);
    expect(topic.published[0]?.Message).toBe("news");
    const attributes = topic.published[0]?.MessageAttributes ?? {};
    expect(attributes[MESSAGE_ATTRIBUTES.connectionIds]?.StringValue).toBe(JSON.stringify(["b"]));
    expect(attributes[MESSAGE_ATTRIBUTES.deliveryAttempt]?.StringValue).toBe("2");
  });

  it("does not throw when it reached no one but handed everyone on: a retry would duplicate the redelivery", async () => {
    gateway.failures.set(
      "a",
      new LimitExceededException({ message: "slow down", $metadata: { httpStatusCode: 429 } }),
    );

    await expect(worker.handler(shard(["a"]), lambdaContext("fanout"))).resolves.toMatchObject({
      delivered: 0,
      handedOn: 1,
    });
  });

  it("counts and logs every id it could neither deliver nor hand on", async () => {
    gateway.open("a", "b");
    gateway.failures.set(
      "b",
      new LimitExceededException({ message: "slow down", $metadata: { httpStatusCode: 429 } }),
    );
    topic.failure = new Error("SNS is down");

    const result = await worker.handler(shard(["a", "b"]), lambdaContext("fanout"));

    expect(result).toMatchObject({ delivered: 1, handedOn: 0, undelivered: 1 });
    expect(logs.withMessage(/left connections undelivered/)).toEqual([
      expect.objectContaining({ level: "ERROR", undeliveredIds: ["b"] }),
    ]);
  });

  it("rejects an event that is not a shard, saying what is wrong", async () => {
    await expect(worker.handler({ Records: [] }, lambdaContext("fanout"))).rejects.toThrow(
      /not a fan-out shard: message is not a string/,
    );
    expect(logs.withMessage(/not a shard/)).toEqual([expect.objectContaining({ level: "ERROR" })]);
  });
});
