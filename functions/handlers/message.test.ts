import {
  ForbiddenException,
  LimitExceededException,
} from "@aws-sdk/client-apigatewaymanagementapi";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { FANOUT, LIMITS, MESSAGE_ATTRIBUTES, ROUTE_KEYS } from "../contract.js";
import { mockDispatcherServices } from "../fixtures/aws.js";
import { FIXTURE_FANOUT_FUNCTION, lambdaContext, messageEvent } from "../fixtures/events.js";
import { inFunctionEnvironment } from "../fixtures/function-environment.js";
import { captureLogsPerTest } from "../fixtures/logs.js";
import { logger } from "../lib/logger.js";
import { ERROR_CODES } from "../lib/protocol.js";

// The handlers send with the SDK's clients, which the in-memory fakes answer (see the fixture).
vi.mock("../lib/fast-poster.js", () => import("../fixtures/sdk-senders.js"));
vi.mock("../lib/object-store.js", () => import("../fixtures/sdk-senders.js"));
vi.mock("../lib/lambda-invoker.js", () => import("../fixtures/sdk-senders.js"));
vi.mock("../lib/topic-publisher.js", () => import("../fixtures/sdk-senders.js"));

const services = mockDispatcherServices("message");
const { bucket, gateway, topic, lambda } = services;
const logs = captureLogsPerTest();
let handler: typeof import("./message.js").handler;
let worker: typeof import("./fanout.js").handler;

const SENDER = "sender+/=";
const OTHER = "Other/+=";

inFunctionEnvironment("message", async () => {
  ({ handler } = await import("./message.js"));
  // The worker reads a subset of the message function's environment.
  ({ handler: worker } = await import("./fanout.js"));
});
beforeEach(() => {
  services.reset();
  bucket.register(SENDER, OTHER);
  gateway.open(SENDER, OTHER);
});

function send(body: string | undefined, routeKey: string = ROUTE_KEYS.default) {
  return handler(messageEvent(SENDER, body, { routeKey }), lambdaContext("message"));
}

function errorOf(frame: string | undefined): { code: string; message: string } {
  return (JSON.parse(frame ?? "{}") as { error: { code: string; message: string } }).error;
}

describe("message handler: broadcast", () => {
  it.each([
    ["a string", "hello"],
    ["an object", { nested: [1, 2, { deep: true }] }],
    ["a number", 42],
    ["null", null],
    ["unicode", "héllo 👋"],
  ])(
    "delivers %s to every connection, the sender included, as exactly {message: X}",
    async (_, message) => {
      const result = await send(
        JSON.stringify({ action: "broadcast", message }),
        ROUTE_KEYS.broadcast,
      );

      expect(result).toEqual({ statusCode: 200 });
      const expected = JSON.stringify({ message });
      expect(gateway.framesOf(SENDER)).toEqual([expected]);
      expect(gateway.framesOf(OTHER)).toEqual([expected]);
    },
  );

  it("removes the stale connection that answered Gone, never the sender", async () => {
    bucket.register("stale+/=");

    await send(JSON.stringify({ action: "broadcast", message: "hi" }), ROUTE_KEYS.broadcast);

    expect(bucket.connectionIds()).toEqual([OTHER, SENDER].sort());
    expect(gateway.framesOf(SENDER)).toHaveLength(1);
    expect(logs.withMessage(/Frame delivered/)).toEqual([
      expect.objectContaining({
        delivered: 2,
        gone: 1,
        failed: 0,
        undelivered: 0,
        connectionId: SENDER,
      }),
    ]);
  });

  it("counts a connection that fails for another reason without removing it", async () => {
    gateway.failures.set(
      OTHER,
      new ForbiddenException({ message: "Forbidden", $metadata: { httpStatusCode: 403 } }),
    );

    await send(JSON.stringify({ action: "broadcast", message: "hi" }), ROUTE_KEYS.broadcast);

    expect(bucket.connectionIds()).toContain(OTHER);
    expect(logs.withMessage(/Frame delivered/)).toEqual([
      expect.objectContaining({ delivered: 1, gone: 0, failed: 1, undelivered: 0 }),
    ]);
    expect(topic.published).toEqual([]);
  });

  it("hands 2,500 connections (three registry pages) to three workers, which reach each once", async () => {
    const ids = Array.from({ length: 2500 }, (_, i) => `c${i}+/=`);
    bucket.register(...ids);
    gateway.open(...ids);
    const frame = JSON.stringify({ message: "all" });

    await send(JSON.stringify({ action: "broadcast", message: "all" }), ROUTE_KEYS.broadcast);

    expect(bucket.listCalls).toBe(3);
    // The dispatcher posts nothing itself: three shards, each with its share of the budget.
    expect(gateway.postOrder).toEqual([]);
    const events = lambda.queued.map((invocation) => {
      expect(invocation.functionName).toBe(FIXTURE_FANOUT_FUNCTION);
      return invocation.event as {
        connectionIds: string[];
        message: string;
        postsPerSecond: number;
      };
    });
    expect(events.map((event) => event.connectionIds.length)).toEqual([1000, 1000, 502]);
    expect(new Set(events.flatMap((event) => event.connectionIds)).size).toBe(2502);
    for (const event of events) {
      expect(event.message).toBe(frame);
      expect(event.postsPerSecond).toBe(FANOUT.accountRequestsPerSecond / 3);
    }
    expect(logs.withMessage(/^Fan-out dispatched$/)).toMatchObject([
      { connections: 2502, shards: 3, invoked: 3, undelivered: 0 },
    ]);

    await lambda.runQueued((event) => worker(event, lambdaContext("fanout")), FANOUT.maxRetries);

    expect(lambda.failureQueue).toEqual([]);
    for (const id of [SENDER, OTHER, ...ids]) expect(gateway.framesOf(id)).toEqual([frame]);
    expect(logs.withMessage(/^Fan-out shard done$/)).toHaveLength(3);
  });

  it("hands a shard Lambda refused to redelivery, and dispatches the rest once", async () => {
    const ids = Array.from({ length: 1500 }, (_, i) => `c${i}+/=`);
    bucket.register(...ids);
    gateway.open(...ids);
    lambda.refuseCalls.add(2);

    await send(JSON.stringify({ action: "broadcast", message: "x" }), ROUTE_KEYS.broadcast);

    expect(lambda.queued).toHaveLength(1);
    const shard = lambda.queued[0]?.event as { connectionIds: string[] } | undefined;
    const dispatched = shard?.connectionIds ?? [];
    expect(topic.published).toHaveLength(1);
    const handedOn = JSON.parse(
      topic.published[0]?.MessageAttributes?.[MESSAGE_ATTRIBUTES.connectionIds]?.StringValue ??
        "[]",
    ) as string[];
    expect(handedOn).toHaveLength(502);
    expect([...dispatched, ...handedOn].sort()).toEqual([SENDER, OTHER, ...ids].sort());
  });

  it("accepts a binary (base64) frame holding the same JSON", async () => {
    const body = Buffer.from(JSON.stringify({ action: "broadcast", message: "bin" })).toString(
      "base64",
    );
    await handler(
      messageEvent(SENDER, body, { routeKey: ROUTE_KEYS.default, isBase64Encoded: true }),
      lambdaContext("message"),
    );

    expect(gateway.framesOf(OTHER)).toEqual([JSON.stringify({ message: "bin" })]);
  });
});

describe("message handler: the sender's JSON, verbatim", () => {
  it.each(["1e400", "9007199254740993", "123456789012345678901234567890"])(
    "delivers the number %s exactly as sent",
    async (number) => {
      await send(`{"action":"broadcast","message":${number}}`, ROUTE_KEYS.broadcast);

      expect(gateway.framesOf(OTHER)).toEqual([`{"message":${number}}`]);
    },
  );

  it("delivers a broadcast nested 5,000 deep (a 10 KB frame) to everyone", async () => {
    const message = `${"[".repeat(5000)}${"]".repeat(5000)}`;

    await send(`{"action":"broadcast","message":${message}}`, ROUTE_KEYS.broadcast);

    expect(gateway.framesOf(OTHER)).toEqual([`{"message":${message}}`]);
    expect(gateway.framesOf(SENDER)).toEqual([`{"message":${message}}`]);
  });
});

describe("message handler: echo", () => {
  it("replies {message, connectionId} to the sender alone, touching neither the registry nor anyone else", async () => {
    await send('{"action":"echo","message":{"n":1e400}}', ROUTE_KEYS.echo);

    expect(gateway.framesOf(SENDER)).toEqual([
      `{"message":{"n":1e400},"connectionId":${JSON.stringify(SENDER)}}`,
    ]);
    expect(gateway.framesOf(OTHER)).toEqual([]);
    expect(bucket.listCalls).toBe(0);
  });
});

describe("message handler: nothing lost", () => {
  const throttled = () =>
    new LimitExceededException({ message: "Rate exceeded", $metadata: { httpStatusCode: 429 } });

  it("retries a connection that failed twice: it and everyone else receive exactly one copy", async () => {
    const peers = Array.from({ length: 10 }, (_, i) => `peer${i}=`);
    bucket.register(...peers);
    gateway.open(...peers);
    gateway.failuresThenSuccess.set(OTHER, [throttled(), throttled()]);

    await send('{"action":"broadcast","message":"once"}', ROUTE_KEYS.broadcast);

    for (const id of [SENDER, OTHER, ...peers]) {
      expect(gateway.framesOf(id), id).toEqual(['{"message":"once"}']);
    }
    expect(topic.published).toEqual([]);
  });

  it("hands a connection still failing on to the topic, addressed to it alone", async () => {
    gateway.failures.set(OTHER, throttled());
    const before = Date.now();

    const result = await send('{"action":"broadcast","message":"later"}', ROUTE_KEYS.broadcast);

    expect(result).toEqual({ statusCode: 200 });
    expect(gateway.framesOf(SENDER)).toEqual(['{"message":"later"}']);
    expect(topic.published).toHaveLength(1);
    const [copy] = topic.published;
    expect(copy?.Message).toBe('{"message":"later"}');
    expect(copy?.MessageAttributes?.[MESSAGE_ATTRIBUTES.connectionIds]).toEqual({
      DataType: "String.Array",
      StringValue: JSON.stringify([OTHER]),
    });
    expect(copy?.MessageAttributes?.[MESSAGE_ATTRIBUTES.deliveryAttempt]?.StringValue).toBe("2");
    expect(
      Number(copy?.MessageAttributes?.[MESSAGE_ATTRIBUTES.firstAttemptAt]?.StringValue),
    ).toBeGreaterThanOrEqual(before);
  });

  it("answers within API Gateway's 29 s: with the window spent, it posts nothing and hands everyone on", async () => {
    const event = messageEvent(SENDER, '{"action":"broadcast","message":"late"}', {
      routeKey: ROUTE_KEYS.broadcast,
    });
    const late = {
      ...event,
      requestContext: {
        ...event.requestContext,
        requestTimeEpoch: Date.now() - LIMITS.integrationTimeoutMs,
      },
    };

    await expect(handler(late, lambdaContext("message"))).resolves.toEqual({ statusCode: 200 });

    expect(gateway.postOrder).toEqual([]);
    const handedOn = JSON.parse(
      topic.published[0]?.MessageAttributes?.[MESSAGE_ATTRIBUTES.connectionIds]?.StringValue ??
        "[]",
    ) as string[];
    expect(handedOn.sort()).toEqual([OTHER, SENDER].sort());
  });

  it("tells the sender when undelivered connections cannot be handed on", async () => {
    gateway.failures.set(OTHER, throttled());
    topic.failure = new Error("SNS unavailable");

    await send('{"action":"broadcast","message":"x"}', ROUTE_KEYS.broadcast);

    const frames = gateway.framesOf(SENDER);
    expect(frames[0]).toBe('{"message":"x"}');
    expect(errorOf(frames[1])).toEqual({
      code: ERROR_CODES.deliveryFailed,
      message: expect.stringMatching(/did not reach 1 connection/),
    });
    expect(logs.withMessage(/could not be handed on/)).toEqual([
      expect.objectContaining({ level: "ERROR", connectionIds: [OTHER] }),
    ]);
  });
});

describe("message handler: sendmessage", () => {
  it("delivers data verbatim to every connection", async () => {
    const data = 'raw text, not {"json"}';

    await send(JSON.stringify({ action: "sendmessage", data }), ROUTE_KEYS.sendmessage);

    expect(gateway.framesOf(SENDER)).toEqual([data]);
    expect(gateway.framesOf(OTHER)).toEqual([data]);
  });
});

describe("message handler: bad input reaches the sender alone", () => {
  const cases: [string, string | undefined, string, RegExp][] = [
    ["text that is not JSON", "hello there", ERROR_CODES.notJson, /not JSON/],
    ["an empty frame", undefined, ERROR_CODES.notJson, /not JSON/],
    ["a JSON array", "[1,2]", ERROR_CODES.notObject, /an array, not a JSON object/],
    ["a JSON string", '"broadcast"', ERROR_CODES.notObject, /a string, not a JSON object/],
    ["an object without action", '{"message":"x"}', ERROR_CODES.missingField, /no "action"/],
    ["a numeric action", '{"action":5}', ERROR_CODES.wrongType, /"action" is a number/],
    ["an unknown action", '{"action":"shout"}', ERROR_CODES.unknownAction, /"shout".*broadcast/],
    ["broadcast without message", '{"action":"broadcast"}', ERROR_CODES.missingField, /"message"/],
    ["sendmessage without data", '{"action":"sendmessage"}', ERROR_CODES.missingField, /"data"/],
    [
      "sendmessage with object data",
      '{"action":"sendmessage","data":{}}',
      ERROR_CODES.wrongType,
      /"data" is an object/,
    ],
  ];

  it.each(cases)(
    "answers %s with its error code and a message to act on",
    async (_, body, code, message) => {
      const result = await send(body);

      expect(result).toEqual({ statusCode: 200 });
      expect(gateway.framesOf(OTHER)).toEqual([]);
      const frames = gateway.framesOf(SENDER);
      expect(frames).toHaveLength(1);
      expect(errorOf(frames[0])).toEqual({ code, message: expect.stringMatching(message) });
      expect(bucket.listCalls).toBe(0);
    },
  );

  it("rejects a message over the size limit", async () => {
    const body = JSON.stringify({ action: "broadcast", message: "x".repeat(LIMITS.messageBytes) });

    await send(body, ROUTE_KEYS.broadcast);

    expect(gateway.framesOf(OTHER)).toEqual([]);
    const error = errorOf(gateway.framesOf(SENDER)[0]);
    expect(error.code).toBe(ERROR_CODES.tooLarge);
    expect(error.message).toContain(String(LIMITS.messageBytes));
  });

  it("tells the sender when the registry cannot be read, without throwing", async () => {
    bucket.failListCall = 1;

    const result = await send(
      JSON.stringify({ action: "broadcast", message: "hi" }),
      ROUTE_KEYS.broadcast,
    );

    expect(result).toEqual({ statusCode: 200 });
    expect(gateway.framesOf(OTHER)).toEqual([]);
    expect(errorOf(gateway.framesOf(SENDER)[0]).code).toBe(ERROR_CODES.deliveryFailed);
    expect(logs.withMessage(/registry could not be read/)).toHaveLength(1);
  });

  it("does not throw when the sender is gone before its error frame arrives", async () => {
    gateway.received.delete(SENDER);

    await expect(send("not json")).resolves.toEqual({ statusCode: 200 });
    expect(logs.withMessage(/error frame could not be sent/)).toHaveLength(1);
  });

  it("answers the sender with internal_error when handling fails unexpectedly", async () => {
    const failing = vi.spyOn(logger, "info").mockImplementationOnce(() => {
      throw new RangeError("injected by the test");
    });
    try {
      await expect(
        send('{"action":"broadcast","message":"x"}', ROUTE_KEYS.broadcast),
      ).resolves.toEqual({ statusCode: 200 });
    } finally {
      failing.mockRestore();
    }

    const frames = gateway.framesOf(SENDER);
    expect(errorOf(frames.at(-1))).toEqual({
      code: ERROR_CODES.internal,
      message: expect.stringMatching(/failed while handling this frame/),
    });
    expect(gateway.framesOf(OTHER)).not.toContainEqual(expect.stringContaining("internal_error"));
  });

  it("does not throw when the poster itself fails unexpectedly", async () => {
    gateway.mock.reset();
    gateway.mock.rejects(new Error("socket hang up"));

    await expect(send("not json")).resolves.toEqual({ statusCode: 200 });
  });
});
