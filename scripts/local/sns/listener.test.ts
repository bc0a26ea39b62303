import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  NotFoundException,
  PublishBatchCommand,
  PublishCommand,
  SNSClient,
} from "@aws-sdk/client-sns";
import type { SNSEvent } from "aws-lambda";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MESSAGE_ATTRIBUTES } from "../../../functions/contract.js";
import { addressedAttributes, readAddressing } from "../../../functions/lib/addressing.js";
import { SignedTopicPublisher } from "../../../functions/lib/topic-publisher.js";
import { LOOPBACK_CREDENTIALS } from "../http/request-signature.js";
import { signedFetch } from "../http/signed-fetch.js";
import { snsListener } from "./listener.js";

const topicArn = "arn:aws:sns:us-east-1:000000000000:websocket-stages-local";
const silentTopicArn = "arn:aws:sns:us-east-1:000000000000:no-subscriber";
let server: Server;
let client: SNSClient;
let endpoint: string;

/** A raw query-protocol POST, for requests the SDK would never send; signed unless told not to. */
async function post(
  form: string,
  signed = true,
): Promise<{ status: number; code: string | undefined }> {
  const init = {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: form,
  };
  const response = signed
    ? await signedFetch(endpoint, init, { service: "sns", credentials: LOOPBACK_CREDENTIALS })
    : await fetch(endpoint, init);
  const text = await response.text();
  return { status: response.status, code: /<Code>([^<]*)<\/Code>/.exec(text)?.[1] };
}
const delivered: SNSEvent[] = [];

beforeAll(async () => {
  const topics = new Map([
    [topicArn, (event: SNSEvent) => delivered.push(event)],
    [silentTopicArn, undefined],
  ]);
  server = createServer(snsListener(topics));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  endpoint = `http://127.0.0.1:${port}`;
  client = new SNSClient({
    endpoint,
    region: "us-east-1",
    // The stage's own key: every request below is verified, not merely accepted.
    credentials: LOOPBACK_CREDENTIALS,
  });
});

beforeEach(() => {
  delivered.length = 0;
});

afterAll(async () => {
  client.destroy();
  server.close();
  await once(server, "close");
});

describe("local SNS with the real SNS client", () => {
  it("delivers a published message to the subscriber as an SNS event", async () => {
    const result = await client.send(
      new PublishCommand({
        TopicArn: topicArn,
        Message: '{"hello":"world"} & <more>',
        Subject: "greeting",
        MessageAttributes: { kind: { DataType: "String", StringValue: "test" } },
      }),
    );
    expect(result.MessageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(delivered).toHaveLength(1);
    const [record] = delivered[0]?.Records ?? [];
    expect(record?.EventSource).toBe("aws:sns");
    expect(record?.Sns).toMatchObject({
      Type: "Notification",
      MessageId: result.MessageId,
      TopicArn: topicArn,
      Subject: "greeting",
      Message: '{"hello":"world"} & <more>',
      MessageAttributes: { kind: { Type: "String", Value: "test" } },
    });
    expect(Number.isNaN(Date.parse(record?.Sns.Timestamp ?? ""))).toBe(false);
  });

  it("delivers each PublishBatch entry as its own event", async () => {
    const result = await client.send(
      new PublishBatchCommand({
        TopicArn: topicArn,
        PublishBatchRequestEntries: [
          { Id: "one", Message: "first" },
          { Id: "two", Message: "second" },
        ],
      }),
    );
    expect(result.Successful?.map((entry) => entry.Id)).toEqual(["one", "two"]);
    expect(result.Failed ?? []).toEqual([]);
    expect(delivered.map((event) => event.Records[0]?.Sns.Message)).toEqual(["first", "second"]);
    expect(delivered.map((event) => event.Records[0]?.Sns.MessageId)).toEqual(
      result.Successful?.map((entry) => entry.MessageId),
    );
  });

  it("accepts a message for a topic without subscriber and delivers it nowhere", async () => {
    const result = await client.send(
      new PublishCommand({ TopicArn: silentTopicArn, Message: "x" }),
    );
    expect(result.MessageId).toBeTruthy();
    expect(delivered).toEqual([]);
  });

  it("answers NotFound for an unknown topic", async () => {
    const error = await client
      .send(new PublishCommand({ TopicArn: `${topicArn}-other`, Message: "x" }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundException);
    expect(delivered).toEqual([]);
  });

  it("rejects a batch with more than 10 entries", async () => {
    const entries = Array.from({ length: 11 }, (_, i) => ({ Id: `m${i}`, Message: "x" }));
    await expect(
      client.send(
        new PublishBatchCommand({ TopicArn: topicArn, PublishBatchRequestEntries: entries }),
      ),
    ).rejects.toMatchObject({ name: "TooManyEntriesInBatchRequestException" });
    expect(delivered).toEqual([]);
  });

  it("counts message attributes in the 256 KB message limit, reading 10,000 of them in one pass", async () => {
    const form = new URLSearchParams({ Action: "Publish", TopicArn: topicArn, Message: "x" });
    const value = "v".repeat(30);
    for (let n = 1; n <= 10_000; n++) {
      form.set(`MessageAttributes.entry.${n}.Name`, `attribute${n}`);
      form.set(`MessageAttributes.entry.${n}.Value.DataType`, "String");
      form.set(`MessageAttributes.entry.${n}.Value.StringValue`, value);
    }
    expect(await post(form.toString())).toEqual({ status: 400, code: "InvalidParameter" });
    expect(delivered).toEqual([]);
    // Positive control: the same request with ten attributes is delivered.
    const few = new URLSearchParams([...form].filter(([name]) => !/entry\.\d{2,}\./.test(name)));
    expect(await post(few.toString())).toMatchObject({ status: 200 });
    expect(Object.keys(delivered[0]?.Records[0]?.Sns.MessageAttributes ?? {})).toHaveLength(9);
  });

  it("answers a body over the limit with SNS's InvalidParameter, not a server error", async () => {
    const form = new URLSearchParams({
      Action: "Publish",
      TopicArn: topicArn,
      Message: "€".repeat(4 * 1024 * 1024),
    });
    expect(await post(form.toString())).toEqual({ status: 400, code: "InvalidParameter" });
    expect(delivered).toEqual([]);
  });

  it("refuses an unsigned form POST (what a web page can send cross-origin): 403, nothing published", async () => {
    const form = new URLSearchParams({
      Action: "Publish",
      TopicArn: topicArn,
      Message: "from a page",
    });
    expect(await post(form.toString(), false)).toEqual({
      status: 403,
      code: "MissingAuthenticationToken",
    });
    expect(delivered).toEqual([]);
    // Positive control: the same form, signed, is published.
    expect(await post(form.toString())).toMatchObject({ status: 200 });
    expect(delivered.map((event) => event.Records[0]?.Sns.Message)).toEqual(["from a page"]);
  });

  it("accepts another access key on loopback, and refuses the stage's key with a wrong secret", async () => {
    const other = new SNSClient({
      endpoint,
      region: "eu-west-1",
      credentials: { accessKeyId: "AKIAANYPROFILE", secretAccessKey: "anything" },
    });
    const wrong = new SNSClient({
      endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: LOOPBACK_CREDENTIALS.accessKeyId, secretAccessKey: "wrong" },
      maxAttempts: 1,
    });
    await other.send(new PublishCommand({ TopicArn: topicArn, Message: "any profile" }));
    const error = await wrong
      .send(new PublishCommand({ TopicArn: topicArn, Message: "forged" }))
      .catch((e: unknown) => e);
    other.destroy();
    wrong.destroy();
    expect(error).toMatchObject({
      name: "SignatureDoesNotMatch",
      $metadata: { httpStatusCode: 403 },
    });
    expect(delivered.map((event) => event.Records[0]?.Sns.Message)).toEqual(["any profile"]);
  });
});

describe("local SNS with the functions' signed publisher", () => {
  const publisherWith = (secretAccessKey: string) =>
    new SignedTopicPublisher({
      endpoint: new URL(endpoint),
      region: "us-east-1",
      credentials: async () => ({ ...LOOPBACK_CREDENTIALS, secretAccessKey }),
      baseDelayMs: 1,
    });

  it("takes a redelivery's publish and hands its message and attributes on intact", async () => {
    const ids = ["L0SM9cOFvHcCIhw=", "a+b/c_d-"];
    const frame = '{"message":"h\u00e9 & = + ~ * \u{1F600}"}\n second line';
    const publisher = publisherWith(LOOPBACK_CREDENTIALS.secretAccessKey);

    const messageId = await publisher.publish(
      topicArn,
      frame,
      addressedAttributes(ids, { attempt: 3, firstAttemptAt: 1764590000123 }),
    );
    publisher.close();

    expect(delivered).toHaveLength(1);
    const sns = delivered[0]?.Records[0]?.Sns;
    expect(sns).toMatchObject({ MessageId: messageId, TopicArn: topicArn, Message: frame });
    expect(sns?.MessageAttributes).toEqual({
      [MESSAGE_ATTRIBUTES.connectionIds]: { Type: "String.Array", Value: JSON.stringify(ids) },
      [MESSAGE_ATTRIBUTES.deliveryAttempt]: { Type: "Number", Value: "3" },
      [MESSAGE_ATTRIBUTES.firstAttemptAt]: { Type: "Number", Value: "1764590000123" },
    });
    // What the subscriber reads back: the same connections, as the same attempt.
    expect(readAddressing(sns?.MessageAttributes)).toEqual({
      ok: true,
      addressing: {
        recipients: { kind: "connections", connectionIds: ids },
        attempt: 3,
        firstAttemptAt: 1764590000123,
      },
    });
  });

  it("is refused, and says why, when its signature is wrong", async () => {
    const forged = publisherWith("wrong");
    await expect(forged.publish(topicArn, "forged", {})).rejects.toThrow(
      `SNS refused to publish to ${topicArn}: SignatureDoesNotMatch (HTTP 403)`,
    );
    forged.close();
    expect(delivered).toEqual([]);
    // Positive control: the stage's own key publishes the same message.
    const genuine = publisherWith(LOOPBACK_CREDENTIALS.secretAccessKey);
    await genuine.publish(topicArn, "forged", {});
    genuine.close();
    expect(delivered.map((event) => event.Records[0]?.Sns.Message)).toEqual(["forged"]);
  });
});
