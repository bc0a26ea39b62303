import { randomUUID } from "node:crypto";
import { once } from "node:events";
import type { RequestListener, ServerResponse } from "node:http";
import type { SNSEvent, SNSMessageAttributes } from "aws-lambda";
import { LIMITS } from "../../../functions/contract.js";
import { BodyTooLargeError, readBody } from "../http/request-body.js";
import {
  checkSignature,
  LOOPBACK_SIGNATURES,
  type SignatureSettings,
} from "../http/request-signature.js";

/**
 * SNS over the AWS query protocol (what @aws-sdk/client-sns and the AWS CLI speak): `Publish` and
 * `PublishBatch` to known topics. Each message reaches the topic's subscriber, if it has one, as
 * its own SNS-shaped Lambda event — like SNS's asynchronous invoke of a subscribed function.
 * Requests must be SigV4-signed (see request-signature.ts): SNS reads any content type, so an
 * unsigned form POST from a web page would otherwise publish.
 */

/** Topic ARN → what receives each message published to it (undefined: no subscription). */
export type Topics = ReadonlyMap<string, ((event: SNSEvent) => void) | undefined>;

const XMLNS = "http://sns.amazonaws.com/doc/2010-03-31/";
const MAX_BATCH_ENTRIES = 10;

class SnsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly type: "Sender" | "Receiver" = "Sender",
  ) {
    super(message);
  }
}

function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function sendXml(response: ServerResponse, status: number, body: string): void {
  const xml = `<?xml version="1.0"?>\n${body}`;
  response.writeHead(status, {
    "content-type": "text/xml",
    "content-length": Buffer.byteLength(xml),
  });
  response.end(xml);
}

function responseMetadata(): string {
  return `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata>`;
}

interface Message {
  readonly message: string;
  readonly subject?: string;
  readonly attributes: SNSMessageAttributes;
}

/**
 * A query request's fields, first value of each name. URLSearchParams looks names up by scanning
 * every pair, so reading N attributes through it took N² steps (10,000 attributes: 12 s, with
 * the whole stage blocked); a map makes each look-up constant.
 */
type Fields = ReadonlyMap<string, string>;

function fieldsOf(params: URLSearchParams): Fields {
  const fields = new Map<string, string>();
  for (const [name, value] of params) if (!fields.has(name)) fields.set(name, value);
  return fields;
}

const messageTooLong = () =>
  new SnsError(400, "InvalidParameter", "Invalid parameter: Message too long");

/**
 * Reads `<prefix>.Message`, `.Subject` and `.MessageAttributes.entry.N.*` from a query request.
 * As SNS documents, every part of every attribute (name, type, value) counts toward the message
 * size limit, which also bounds how many attributes a message can carry.
 */
function readMessage(fields: Fields, prefix: string): Message {
  const message = fields.get(`${prefix}Message`);
  if (message === undefined) {
    throw new SnsError(400, "InvalidParameter", "Invalid parameter: Empty message");
  }
  let size = Buffer.byteLength(message);
  if (size > LIMITS.snsMessageBytes) throw messageTooLong();
  const attributes: SNSMessageAttributes = {};
  for (let n = 1; fields.has(`${prefix}MessageAttributes.entry.${n}.Name`); n++) {
    const entry = `${prefix}MessageAttributes.entry.${n}`;
    const name = fields.get(`${entry}.Name`) as string;
    const type = fields.get(`${entry}.Value.DataType`);
    const value =
      fields.get(`${entry}.Value.StringValue`) ?? fields.get(`${entry}.Value.BinaryValue`);
    size +=
      Buffer.byteLength(name) + Buffer.byteLength(type ?? "") + Buffer.byteLength(value ?? "");
    if (size > LIMITS.snsMessageBytes) throw messageTooLong();
    if (type === undefined || value === undefined) {
      throw new SnsError(
        400,
        "ParameterValueInvalid",
        `The message attribute '${name}' must contain a DataType and a non-empty value.`,
      );
    }
    attributes[name] = { Type: type, Value: value };
  }
  const subject = fields.get(`${prefix}Subject`);
  return { message, attributes, ...(subject === undefined ? {} : { subject }) };
}

function snsEvent(topicArn: string, messageId: string, message: Message): SNSEvent {
  return {
    Records: [
      {
        EventSource: "aws:sns",
        EventVersion: "1.0",
        EventSubscriptionArn: `${topicArn}:${randomUUID()}`,
        Sns: {
          Type: "Notification",
          MessageId: messageId,
          TopicArn: topicArn,
          ...(message.subject === undefined ? {} : { Subject: message.subject }),
          Message: message.message,
          Timestamp: new Date().toISOString(),
          SignatureVersion: "1",
          Signature: "LOCAL",
          SigningCertUrl: "https://sns.local/SimpleNotificationService.pem",
          UnsubscribeUrl: `https://sns.local/?Action=Unsubscribe&TopicArn=${topicArn}`,
          MessageAttributes: message.attributes,
        },
      },
    ],
  };
}

function topicFor(topics: Topics, fields: Fields) {
  const topicArn = fields.get("TopicArn") ?? fields.get("TargetArn");
  if (topicArn === undefined)
    throw new SnsError(400, "InvalidParameter", "Invalid parameter: TopicArn");
  if (!topics.has(topicArn)) throw new SnsError(404, "NotFound", "Topic does not exist");
  return { topicArn, deliver: topics.get(topicArn) };
}

function publish(topics: Topics, fields: Fields): string {
  const { topicArn, deliver } = topicFor(topics, fields);
  const message = readMessage(fields, "");
  const messageId = randomUUID();
  deliver?.(snsEvent(topicArn, messageId, message));
  return `<PublishResponse xmlns="${XMLNS}"><PublishResult><MessageId>${messageId}</MessageId></PublishResult>${responseMetadata()}</PublishResponse>`;
}

function publishBatch(topics: Topics, fields: Fields): string {
  const { topicArn, deliver } = topicFor(topics, fields);
  const entries: { id: string; message: Message }[] = [];
  for (let n = 1; fields.has(`PublishBatchRequestEntries.member.${n}.Id`); n++) {
    const prefix = `PublishBatchRequestEntries.member.${n}.`;
    entries.push({ id: fields.get(`${prefix}Id`) as string, message: readMessage(fields, prefix) });
  }
  if (entries.length === 0) {
    throw new SnsError(400, "EmptyBatchRequest", "The batch request doesn't contain any entries.");
  }
  if (entries.length > MAX_BATCH_ENTRIES) {
    throw new SnsError(
      400,
      "TooManyEntriesInBatchRequest",
      `The batch request contains more entries than permissible (${MAX_BATCH_ENTRIES}).`,
    );
  }
  if (new Set(entries.map((entry) => entry.id)).size !== entries.length) {
    throw new SnsError(
      400,
      "BatchEntryIdsNotDistinct",
      "Two or more batch entries in the request have the same Id.",
    );
  }
  const successful = entries.map(({ id, message }) => {
    const messageId = randomUUID();
    deliver?.(snsEvent(topicArn, messageId, message));
    return `<member><Id>${escapeXml(id)}</Id><MessageId>${messageId}</MessageId></member>`;
  });
  return `<PublishBatchResponse xmlns="${XMLNS}"><PublishBatchResult><Successful>${successful.join("")}</Successful><Failed/></PublishBatchResult>${responseMetadata()}</PublishBatchResponse>`;
}

/** An HTTP request listener serving SNS for `topics`. */
export function snsListener(
  topics: Topics,
  signatures: SignatureSettings = LOOPBACK_SIGNATURES,
): RequestListener {
  return (request, response) => {
    const handle = async () => {
      // Form encoding can inflate a message several times over.
      const body = await readBody(request, LIMITS.snsMessageBytes * 40).catch(
        async (error: unknown) => {
          if (!(error instanceof BodyTooLargeError)) throw error;
          // Read the rest before answering: a client still uploading when the socket closes
          // sees a reset (ECONNRESET), not SNS's error.
          if (!request.destroyed && !request.readableEnded) {
            request.resume();
            await once(request, "end");
          }
          throw messageTooLong();
        },
      );
      const rejected = await checkSignature(request, body, { ...signatures, service: "sns" });
      if (rejected !== undefined) {
        response.writeHead(rejected.status, rejected.headers).end(rejected.body);
        return;
      }
      if (request.method !== "POST") {
        throw new SnsError(405, "InvalidAction", "SNS takes form-encoded POST requests.");
      }
      const fields = fieldsOf(new URLSearchParams(body.toString("utf8")));
      const action = fields.get("Action");
      if (action === "Publish") sendXml(response, 200, publish(topics, fields));
      else if (action === "PublishBatch") sendXml(response, 200, publishBatch(topics, fields));
      else {
        throw new SnsError(
          400,
          "InvalidAction",
          `The local stage's SNS supports Publish and PublishBatch, not ${action ?? "(no Action)"}.`,
        );
      }
    };
    handle().catch((error: unknown) => {
      const snsError =
        error instanceof SnsError
          ? error
          : new SnsError(
              500,
              "InternalError",
              `The local SNS failed: ${String(error)}`,
              "Receiver",
            );
      sendXml(
        response,
        snsError.status,
        `<ErrorResponse xmlns="${XMLNS}"><Error><Type>${snsError.type}</Type><Code>${snsError.code}</Code><Message>${escapeXml(snsError.message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
      );
    });
  };
}
