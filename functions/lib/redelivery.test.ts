import { SNSClient } from "@aws-sdk/client-sns";
import { describe, expect, it } from "vitest";
import { LIMITS, MESSAGE_ATTRIBUTES, REDELIVERY } from "../contract.js";
import { mockTopic } from "../fixtures/aws.js";
import { FIXTURE_TOPIC_ARN } from "../fixtures/events.js";
import { isExpired, nextStep, Redelivery } from "./redelivery.js";

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

    const result = await new Redelivery(new SNSClient({}), FIXTURE_TOPIC_ARN).handOn("f", ids, {
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

    const result = await new Redelivery(new SNSClient({}), FIXTURE_TOPIC_ARN).handOn(
      "f",
      ["a=", "b="],
      { attempt: 2, firstAttemptAt: 5 },
    );

    expect(result).toMatchObject({ handedOn: 0, notHandedOn: ["a=", "b="] });
  });
});
