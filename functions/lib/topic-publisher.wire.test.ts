import { type MessageAttributeValue, PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { DEFAULT_MAX_ATTEMPTS } from "@smithy/core/retry";
import { afterEach, describe, expect, it, vi } from "vitest";
import { stubSenderEnvironment } from "../fixtures/function-environment.js";
import { removePerCallHeaders, signingTime } from "../fixtures/sdk-wire.js";
import { type Received, standInServer } from "../fixtures/stand-in-server.js";
import { addressedAttributes } from "./addressing.js";
import { createTopicPublisher, publishBody, SignedTopicPublisher } from "./topic-publisher.js";

/**
 * The signed publisher on the wire, against an SNS stand-in on 127.0.0.1: the request it sends is
 * the one the SDK's PublishCommand sends for the same input — method, path, every header with the
 * signature, and the body's bytes — and SNS's answers are retried as the SDK's standard mode
 * retries them.
 */

type Reply = { readonly status: number; readonly code: string; readonly message?: string };

const TOPIC_ARN = "arn:aws:sns:eu-west-1:123456789012:websocket-stages-dev";
const credentials = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
  sessionToken: "IQoJb3JpZ2luX2VjEXAMPLETOKEN+/=",
};
const XMLNS = "http://sns.amazonaws.com/doc/2010-03-31/";

/** SNS's answers: the queued error, else a PublishResponse numbered by the request. */
const stand = standInServer<Reply>((reply, response) => {
  const n = stand.seen.length;
  response.writeHead(reply?.status ?? 200, { "content-type": "text/xml" });
  response.end(
    reply === undefined
      ? `<?xml version="1.0"?>\n<PublishResponse xmlns="${XMLNS}"><PublishResult><MessageId>m-${n}</MessageId></PublishResult><ResponseMetadata><RequestId>r-${n}</RequestId></ResponseMetadata></PublishResponse>`
      : `<?xml version="1.0"?>\n<ErrorResponse xmlns="${XMLNS}"><Error><Type>Sender</Type><Code>${reply.code}</Code><Message>${reply.message ?? "injected"}</Message></Error><RequestId>r-${n}</RequestId></ErrorResponse>`,
  );
});
const { seen, replies } = stand;

const publisherWith = (options: ConstructorParameters<typeof SignedTopicPublisher>[0] = {}) =>
  new SignedTopicPublisher({
    endpoint: stand.endpoint,
    region: "eu-west-1",
    credentials: async () => credentials,
    baseDelayMs: 1,
    ...options,
  });

/** The SDK client, less the headers that change per call (fixtures/sdk-wire.ts). */
function sdkClient(): SNSClient {
  const sdk = new SNSClient({ endpoint: stand.endpoint.href, region: "eu-west-1", credentials });
  removePerCallHeaders(sdk.middlewareStack);
  return sdk;
}

const MESSAGES = {
  "unicode and the characters form encoding treats specially":
    "h\u00e9llo \u{1F600} & a=b + c ~ d * e 'f' (g) !h %20 <i/>",
  "spaces and newlines": "  line one\nline two\r\n\tindented  ",
  JSON: JSON.stringify({ type: "message", text: "a & b = c", n: 1 }),
};

const ATTRIBUTE_SETS: Record<string, Record<string, MessageAttributeValue>> = {
  none: {},
  "one, as redelivery addresses a message": addressedAttributes(["L0SM9cOFvHcCIhw=", "a+b/c_d-"]),
  "several, in the record's key order (integer-like names first, as JavaScript orders them)": {
    ...addressedAttributes(["L0SM9cOFvHcCIhw="], { attempt: 2, firstAttemptAt: 1764590000123 }),
    "k\u00e9y & =": { DataType: "String", StringValue: "v a+l~u*e\n" },
    "7": { DataType: "Number", StringValue: "7" },
    bytes: { DataType: "Binary", BinaryValue: new Uint8Array([0, 1, 0xfb, 0xff]) },
  },
};

describe("SignedTopicPublisher", () => {
  const cases = Object.entries(MESSAGES).flatMap(([messageName, message]) =>
    Object.entries(ATTRIBUTE_SETS).map(
      ([attributesName, attributes]) =>
        [`${messageName}, attributes: ${attributesName}`, message, attributes] as const,
    ),
  );

  it.each(cases)("sends the request PublishCommand sends: %s", async (_, message, attributes) => {
    const sdk = sdkClient();
    await sdk.send(
      new PublishCommand({ TopicArn: TOPIC_ARN, Message: message, MessageAttributes: attributes }),
    );
    sdk.destroy();
    const [fromSdk] = seen as [Received];
    // Signed at the SDK's instant: equal requests then carry equal signatures.
    const at = signingTime(String(fromSdk.headers["x-amz-date"]));
    const publisher = publisherWith({ now: () => at });
    await publisher.publish(TOPIC_ARN, message, attributes);
    publisher.close();

    expect(seen).toHaveLength(2);
    const [, fromPublisher] = seen as [Received, Received];
    const wire = ({ method, path, headers, body }: Received) => ({ method, path, headers, body });
    expect(wire(fromPublisher)).toEqual(wire(fromSdk));
    expect(fromPublisher).toMatchObject({ method: "POST", path: "/" });
    expect(fromPublisher.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(fromPublisher.body).toMatch(/^Action=Publish&Version=2010-03-31&Message=/);
  });

  it("carries a session token as x-amz-security-token, under the signature", async () => {
    const publisher = publisherWith();
    expect(await publisher.publish(TOPIC_ARN, "m", {})).toBe("m-1");
    publisher.close();

    const [request] = seen as [Received];
    expect(request.headers["x-amz-security-token"]).toBe(credentials.sessionToken);
    expect(String(request.headers.authorization)).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/sns\/aws4_request, SignedHeaders=[^,]*x-amz-security-token/,
    );
  });

  it("retries throttling, whether SNS names it by code or by status, then publishes", async () => {
    replies.push(
      { status: 400, code: "Throttling", message: "Rate exceeded" },
      // SNS's own code for its ThrottledException, which the SDK retries as throttling.
      { status: 400, code: "Throttled" },
    );
    const publisher = publisherWith();
    expect(await publisher.publish(TOPIC_ARN, "m", {})).toBe("m-3");
    expect(seen).toHaveLength(3);

    seen.length = 0;
    replies.push({ status: 429, code: "SomethingElse" });
    expect(await publisher.publish(TOPIC_ARN, "m", {})).toBe("m-2");
    expect(seen).toHaveLength(2);
    publisher.close();
  });

  it("does not retry a refusal no retry can fix, and says which (a retryable one in its place is)", async () => {
    const publisher = publisherWith();
    replies.push({
      status: 400,
      code: "InvalidParameter",
      message: "Invalid parameter: Message too long &amp; &lt;more&gt;",
    });
    await expect(publisher.publish(TOPIC_ARN, "m", {})).rejects.toThrow(
      `SNS refused to publish to ${TOPIC_ARN}: InvalidParameter (HTTP 400): Invalid parameter: Message too long & <more>`,
    );
    expect(seen).toHaveLength(1);

    // Positive control: the same position answered with a server error is retried.
    seen.length = 0;
    replies.push({ status: 503, code: "ServiceUnavailable" });
    expect(await publisher.publish(TOPIC_ARN, "m", {})).toBe("m-2");
    expect(seen).toHaveLength(2);
    publisher.close();
  });

  it(`gives up on server errors after exactly ${DEFAULT_MAX_ATTEMPTS} attempts, the SDK's standard`, async () => {
    expect(DEFAULT_MAX_ATTEMPTS).toBe(3);
    replies.push(
      { status: 500, code: "InternalError" },
      { status: 502, code: "BadGateway" },
      { status: 500, code: "InternalError", message: "the last one" },
    );
    const publisher = publisherWith();
    await expect(publisher.publish(TOPIC_ARN, "m", {})).rejects.toThrow(
      `SNS did not take the message for ${TOPIC_ARN} in 3 attempts: InternalError (HTTP 500): the last one`,
    );
    // A fourth attempt would have been answered with success.
    expect(seen).toHaveLength(3);
    publisher.close();
  });

  it("keeps its connection alive from one publish to the next", async () => {
    const publisher = publisherWith();
    for (let i = 0; i < 3; i += 1) await publisher.publish(TOPIC_ARN, `m${i}`, {});
    publisher.close();

    expect(seen).toHaveLength(3);
    expect(new Set(seen.map((request) => request.socket)).size).toBe(1);
  });

  it("publishes again when a written request goes unanswered: a second copy, never a loss", async () => {
    replies.push("hold");
    const publisher = publisherWith({ answerTimeoutMs: 50 });
    expect(await publisher.publish(TOPIC_ARN, "m", {})).toBe("m-2");
    publisher.close();
    expect(seen.map((request) => request.body)).toEqual([seen[0]?.body, seen[0]?.body]);
    // The unanswered connection was given up: the retry came on a fresh one.
    expect(seen[1]?.socket).not.toBe(seen[0]?.socket);
  });

  it("gives up after as many unanswered attempts, saying so", async () => {
    replies.push("hold", "hold", "hold");
    const publisher = publisherWith({ answerTimeoutMs: 30 });
    await expect(publisher.publish(TOPIC_ARN, "m", {})).rejects.toThrow(
      `in ${DEFAULT_MAX_ATTEMPTS} attempts: no answer within 30 ms of the request`,
    );
    publisher.close();
    expect(seen).toHaveLength(DEFAULT_MAX_ATTEMPTS);
  });
});

describe("createTopicPublisher", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it("builds nothing until its first publish: a missing region surfaces there, not at import", async () => {
    stubSenderEnvironment("sns");
    const publisher = createTopicPublisher();
    await expect(publisher.publish(TOPIC_ARN, "m", {})).rejects.toThrow(
      "No region to publish to the stage's topic in: AWS_REGION is not set. Set AWS_REGION.",
    );
    expect(seen).toHaveLength(0);
  });

  it("is built once, on the first publish, and keeps its connection for the next", async () => {
    stubSenderEnvironment("sns", stand.endpoint, credentials);
    const publisher = createTopicPublisher();
    expect(await publisher.publish(TOPIC_ARN, "first", {})).toBe("m-1");
    expect(await publisher.publish(TOPIC_ARN, "second", {})).toBe("m-2");
    expect(seen.map((request) => request.body)).toEqual([
      publishBody(TOPIC_ARN, "first", {}),
      publishBody(TOPIC_ARN, "second", {}),
    ]);
    expect(new Set(seen.map((request) => request.socket)).size).toBe(1);
  });
});
