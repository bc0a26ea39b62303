import type { MessageAttributeValue } from "@aws-sdk/client-sns";
import { extendedEncodeURIComponent } from "@smithy/core/protocols";
import { retriedCall, xmlText } from "./service-retries.js";
import type { SignedAttempts, SignedRequest } from "./signed-attempt.js";
import {
  builtOnFirstUse,
  type CallTiming,
  callTiming,
  type SignedSenderOptions,
  serviceAttempts,
} from "./signed-service.js";

/**
 * SNS's Publish without the SDK client: the signed form POST the SDK's PublishCommand sends (the
 * AWS query protocol), built with the SDK's own signer and credential chain, as lambda-invoker.ts
 * does for Lambda's Invoke.
 *
 * Why: the functions publish for one reason — handing undelivered connection ids back to the
 * stage's topic (redelivery.ts) — and @aws-sdk/client-sns brought 20–35 KB of schema and client
 * into each dispatcher bundle, loaded on every cold start, with the fan-out bundle a few hundred
 * bytes under the 500 KB budget. topic-publisher.wire.test.ts holds the request to the SDK's.
 *
 * The endpoint follows the SDK's configuration (signed-service.ts): AWS_ENDPOINT_URL_SNS (the
 * local stage's SNS), else AWS_ENDPOINT_URL, else SNS's regional endpoint. Retries follow the
 * SDK's standard mode: its own classification of throttling, transient and server errors decides,
 * with full-jitter backoff, DEFAULT_MAX_ATTEMPTS (3) attempts in all; any other refusal fails at
 * once, naming SNS's error code and message.
 *
 * Timeouts, in two phases (signed-attempt.ts). A stall before the request is written in full is
 * retried: SNS cannot have taken the message. A request written and left unanswered is retried
 * too, unlike the shard invoker's: SNS may have taken the message, so the retry may hand a second
 * copy on and those connections get the frame twice. Not retrying would lose it instead: the ids
 * would be neither delivered nor handed on — the fan-out worker counts them undelivered (the
 * stage alarms), the message function tells the sender to try again (which reaches everyone
 * again), the subscriber logs them. A duplicate is the harm the project accepts, a loss is not
 * (see lambda-invoker.ts, where the unanswered shard is handed on for the same reason). The answer
 * timeout is still short: SNS answers a Publish in tens of milliseconds, so seconds of silence
 * mean a dead connection, which a retry on a fresh one gets past.
 */

const SNS_API_VERSION = "2010-03-31";
const TIMING = { baseDelayMs: 100, sendTimeoutMs: 5_000, answerTimeoutMs: 5_000 };
/** Redelivery publishes one message at a time; a few more for settlements that overlap. */
const MAX_SOCKETS = 4;

/**
 * SNS's query error codes whose modeled exception the SDK's retry classification knows by another
 * name: SNS sends `Throttled`, the SDK throws ThrottledException and retries it as throttling.
 * Every other code is classified as the name it is (an unmodeled code is the SDK's error name).
 */
const MODELED_ERROR_NAMES: Readonly<Record<string, string>> = { Throttled: "ThrottledException" };

/** Publishing a message to an SNS topic, with message attributes. */
export interface TopicPublisher {
  /** Resolves with the MessageId SNS gave the message (undefined if its answer names none). */
  publish(
    topicArn: string,
    message: string,
    attributes: Record<string, MessageAttributeValue>,
  ): Promise<string | undefined>;
}

/**
 * The form body PublishCommand sends, byte for byte: its members in the SDK's schema order
 * (Message, then TopicArn), attributes in the record's own key order, every name and value
 * encoded with the SDK's extendedEncodeURIComponent.
 */
export function publishBody(
  topicArn: string,
  message: string,
  attributes: Record<string, MessageAttributeValue>,
): string {
  let body = `Action=Publish&Version=${SNS_API_VERSION}&Message=${extendedEncodeURIComponent(message)}&TopicArn=${extendedEncodeURIComponent(topicArn)}`;
  let n = 1;
  for (const [name, value] of Object.entries(attributes)) {
    // Skipped as the SDK skips them: a `null` smuggled past the type names nothing.
    if (value === undefined || value === null) continue;
    const entry = `&MessageAttributes.entry.${n}`;
    body += `${entry}.Name=${extendedEncodeURIComponent(name)}`;
    if (value.DataType != null) {
      body += `${entry}.Value.DataType=${extendedEncodeURIComponent(value.DataType)}`;
    }
    if (value.StringValue != null) {
      body += `${entry}.Value.StringValue=${extendedEncodeURIComponent(value.StringValue)}`;
    }
    if (value.BinaryValue != null) {
      const base64 = Buffer.from(value.BinaryValue).toString("base64");
      body += `${entry}.Value.BinaryValue=${extendedEncodeURIComponent(base64)}`;
    }
    n += 1;
  }
  return body;
}

export class SignedTopicPublisher implements TopicPublisher {
  private readonly attempts: SignedAttempts;
  private readonly timing: CallTiming;

  constructor(options: SignedSenderOptions = {}) {
    this.timing = callTiming(options, TIMING);
    this.attempts = serviceAttempts("sns", "publish to the stage's topic in", options, {
      maxSockets: MAX_SOCKETS,
      discardsBodyOf: () => false,
    });
  }

  async publish(
    topicArn: string,
    message: string,
    attributes: Record<string, MessageAttributeValue>,
  ): Promise<string | undefined> {
    const body = publishBody(topicArn, message, attributes);
    return retriedCall(this.attempts, this.timing, {
      sign: (date) => this.signAt(body, date),
      body,
      succeeded: (status) => status === 200,
      read: (answer) => xmlText(answer.body, "MessageId"),
      refused: (refusal) => `SNS refused to publish to ${topicArn}: ${refusal}`,
      gaveUp: (attempts, failure) =>
        `SNS did not take the message for ${topicArn} in ${attempts} attempts: ${failure}`,
      modeledNames: MODELED_ERROR_NAMES,
    });
  }

  /** The signed headers of one attempt (signed again each time: the date moves). */
  private signAt(body: string, date: Date): Promise<SignedRequest> {
    return this.attempts.sign(
      "/",
      { "content-type": "application/x-www-form-urlencoded" },
      body,
      date,
    );
  }

  /** Closes the pooled connections (tests; a Lambda just freezes). */
  close(): void {
    this.attempts.close();
  }
}

/**
 * The publisher the functions hand undelivered connections on with, built on its first publish
 * (most invocations deliver everything).
 */
export function createTopicPublisher(): TopicPublisher {
  const publisher = builtOnFirstUse(() => new SignedTopicPublisher());
  return { publish: async (...call) => publisher().publish(...call) };
}
