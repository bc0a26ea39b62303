import { SNSClient } from "@aws-sdk/client-sns";
import { describe, expect, it } from "vitest";
import { LIMITS, MESSAGE_ATTRIBUTES, REDELIVERY } from "../contract.js";
import { mockTopic } from "../fixtures/aws.js";
import { FIXTURE_TOPIC_ARN } from "../fixtures/events.js";
import { isExpired, nextStep, Redelivery } from "./redelivery.js";
import { SdkTopicPublisher } from "./sdk-topic-publisher.js";

const topic = mockTopic();

describe("the redelivery policy", () => {
  it("hands on with the next attempt below the maximum", () => {
    expect(nextStep(1, 0)).toEqual({ handOn: true, attempt: 2 });
    expect(nextStep(REDELIVERY.maxAttempts - 1, 0)).toEqual({
      handOn: true,
      attempt: REDELIVERY.maxAttempts,
    });
  });

  it("at the maximum, hands on only after progress, else keeps the message", () => {
    expect(nextStep(REDELIVERY.maxAttempts, 3)).toEqual({
      handOn: true,
      attempt: REDELIVERY.maxAttempts,
    });
    expect(nextStep(REDELIVERY.maxAttempts, 0)).toEqual({ handOn: false });
  });

  it("expires a copy older than maxAgeMs, never an original", () => {
    const everyone = { kind: "everyone" } as const;
    expect(isExpired({ recipients: everyone, attempt: 1 }, Date.now())).toBe(false);
    const at = 1_000_000;
    const copy = { recipients: everyone, attempt: 2, firstAttemptAt: at };
    expect(isExpired(copy, at + REDELIVERY.maxAgeMs)).toBe(false);
    expect(isExpired(copy, at + REDELIVERY.maxAgeMs + 1)).toBe(true);
  });
});

describe("Redelivery.handOn", () => {
  it(`publishes ${LIMITS.addressedConnectionsMax} ids per addressed message`, async () => {
    topic.reset();
    const ids = Array.from({ length: 2500 }, (_, i) => `c${i}=`);

    const result = await new Redelivery(
      new SdkTopicPublisher(new SNSClient({})),
      FIXTURE_TOPIC_ARN,
    ).handOn("f", ids, {
      attempt: 2,
      firstAttemptAt: 5,
    });

    expect(result).toEqual({ handedOn: 2500, notHandedOn: [] });
    const sent = topic.published.map((input) =>
      JSON.parse(String(input.MessageAttributes?.[MESSAGE_ATTRIBUTES.connectionIds]?.StringValue)),
    );
    expect(sent.map((chunk) => chunk.length)).toEqual([1000, 1000, 500]);
    expect(sent.flat()).toEqual(ids);
    expect(topic.published.every((input) => input.TopicArn === FIXTURE_TOPIC_ARN)).toBe(true);
  });

  it("returns the ids it could not publish", async () => {
    topic.reset();
    topic.failure = new Error("SNS unavailable");

    const result = await new Redelivery(
      new SdkTopicPublisher(new SNSClient({})),
      FIXTURE_TOPIC_ARN,
    ).handOn("f", ["a=", "b="], { attempt: 2, firstAttemptAt: 5 });

    expect(result).toMatchObject({ handedOn: 0, notHandedOn: ["a=", "b="] });
  });
});

describe("Redelivery.settle", () => {
  const redelivery = () =>
    new Redelivery(new SdkTopicPublisher(new SNSClient({})), FIXTURE_TOPIC_ARN);

  it("does nothing when everything was delivered", async () => {
    topic.reset();
    expect(await redelivery().settle("f", [], { attempt: 1, firstAttemptAt: 5 }, 3)).toEqual({
      handedOn: 0,
      notHandedOn: [],
      exhausted: false,
    });
    expect(topic.published).toEqual([]);
  });

  it("hands the rest on as the next attempt, keeping the first attempt's time", async () => {
    topic.reset();
    const settled = await redelivery().settle("f", ["a="], { attempt: 1, firstAttemptAt: 5 }, 0);
    expect(settled).toEqual({ handedOn: 1, notHandedOn: [], exhausted: false });
    const attributes = topic.published[0]?.MessageAttributes;
    expect(attributes?.[MESSAGE_ATTRIBUTES.deliveryAttempt]?.StringValue).toBe("2");
    expect(attributes?.[MESSAGE_ATTRIBUTES.firstAttemptAt]?.StringValue).toBe("5");
  });

  it("reports the policy exhausted, publishing nothing, at the last attempt without progress", async () => {
    topic.reset();
    const settled = await redelivery().settle(
      "f",
      ["a="],
      { attempt: REDELIVERY.maxAttempts, firstAttemptAt: 5 },
      0,
    );
    expect(settled).toEqual({ handedOn: 0, notHandedOn: ["a="], exhausted: true });
    expect(topic.published).toEqual([]);
  });
});
