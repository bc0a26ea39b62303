import { LIMITS, ROUTE_KEYS, ROUTE_SELECTION_FIELD } from "../contract.js";
import { memberText } from "./json-span.js";

/**
 * The frames clients exchange with the message function: inbound frames become a command (with
 * the outbound frame already formatted) or a precise error for the sender.
 */

export const ERROR_CODES = {
  notJson: "not_json",
  notObject: "not_an_object",
  unknownAction: "unknown_action",
  missingField: "missing_field",
  wrongType: "wrong_type",
  tooLarge: "message_too_large",
  deliveryFailed: "delivery_failed",
  /** The function failed in a way no input should cause; the sender is told rather than ignored. */
  internal: "internal_error",
} as const;
export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

export interface ProtocolError {
  readonly code: ErrorCode;
  readonly message: string;
}

/**
 * What a client asked for. For broadcast and sendmessage, `frame` is exactly what every connection
 * receives; for echo, `message` is the sender's JSON text of its message (see echoFrame).
 */
export type Command =
  | { readonly action: typeof ROUTE_KEYS.broadcast; readonly frame: string }
  | { readonly action: typeof ROUTE_KEYS.sendmessage; readonly frame: string }
  | { readonly action: typeof ROUTE_KEYS.echo; readonly message: string };

export type ParseResult =
  | { readonly ok: true; readonly command: Command }
  | { readonly ok: false; readonly error: ProtocolError };

const ACTIONS = [ROUTE_KEYS.broadcast, ROUTE_KEYS.sendmessage, ROUTE_KEYS.echo] as const;
const EXAMPLES = `{"${ROUTE_SELECTION_FIELD}":"${ROUTE_KEYS.broadcast}","message":"hello"} or {"${ROUTE_SELECTION_FIELD}":"${ROUTE_KEYS.sendmessage}","data":"hello"}`;

export function byteLength(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

function failure(code: ErrorCode, message: string): ParseResult {
  return { ok: false, error: { code, message } };
}

function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  return `a ${typeof value}`;
}

function tooLarge(what: string, bytes: number): ParseResult {
  return failure(
    ERROR_CODES.tooLarge,
    `${what} is ${bytes} bytes, over the ${LIMITS.messageBytes}-byte WebSocket message limit; send less.`,
  );
}

/**
 * Parses an inbound frame. `body` is the event's body (base64 when the client sent a binary
 * frame).
 */
export function parseFrame(body: string | undefined, isBase64Encoded = false): ParseResult {
  const text = isBase64Encoded ? Buffer.from(body ?? "", "base64").toString("utf8") : (body ?? "");
  const inboundBytes = byteLength(text);
  if (inboundBytes > LIMITS.messageBytes) return tooLarge("The message", inboundBytes);

  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return failure(
      ERROR_CODES.notJson,
      `The message is not JSON. Send a JSON object such as ${EXAMPLES}.`,
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return failure(
      ERROR_CODES.notObject,
      `The message is ${describeType(value)}, not a JSON object. Send an object such as ${EXAMPLES}.`,
    );
  }
  const fields = value as Record<string, unknown>;
  const action = fields[ROUTE_SELECTION_FIELD];
  if (action === undefined) {
    return failure(
      ERROR_CODES.missingField,
      `The message has no "${ROUTE_SELECTION_FIELD}" field. Send ${EXAMPLES}.`,
    );
  }
  if (typeof action !== "string") {
    return failure(
      ERROR_CODES.wrongType,
      `"${ROUTE_SELECTION_FIELD}" is ${describeType(action)}; it must be a string: "${ACTIONS.join('" or "')}".`,
    );
  }

  switch (action) {
    case ROUTE_KEYS.broadcast:
    case ROUTE_KEYS.echo: {
      const message = memberText(text, "message");
      if (message === undefined) {
        return failure(
          ERROR_CODES.missingField,
          `"${action}" needs a "message" field (any JSON value), e.g. {"${ROUTE_SELECTION_FIELD}":"${action}","message":"hello"}.`,
        );
      }
      // The echo frame adds the connection id, at most LIMITS.connectionIdMaxChars more.
      const frame = messageFrame(message);
      const bytes = byteLength(frame) + (action === ROUTE_KEYS.echo ? ECHO_OVERHEAD_BYTES : 0);
      if (bytes > LIMITS.messageBytes) return tooLarge(`The ${action} frame`, bytes);
      return {
        ok: true,
        command: action === ROUTE_KEYS.echo ? { action, message } : { action, frame },
      };
    }
    case ROUTE_KEYS.sendmessage: {
      const data = fields.data;
      if (data === undefined) {
        return failure(
          ERROR_CODES.missingField,
          `"${ROUTE_KEYS.sendmessage}" needs a "data" field (a string), e.g. {"${ROUTE_SELECTION_FIELD}":"${ROUTE_KEYS.sendmessage}","data":"hello"}.`,
        );
      }
      if (typeof data !== "string") {
        return failure(
          ERROR_CODES.wrongType,
          `"data" is ${describeType(data)}; "${ROUTE_KEYS.sendmessage}" sends it verbatim, so it must be a string.`,
        );
      }
      return { ok: true, command: { action, frame: data } };
    }
    default:
      return failure(
        ERROR_CODES.unknownAction,
        `Unknown action ${JSON.stringify(action).slice(0, 100)}: use "${ACTIONS.join('" or "')}".`,
      );
  }
}

/**
 * What the recipients of a broadcast (or the sender of an echo) receive: `{"message":X}` where X
 * is the sender's own JSON text of the value, byte for byte — never re-serialized, so numbers
 * beyond a double arrive as sent and no nesting depth can overflow the stack.
 */
export function messageFrame(messageJson: string): string {
  return `{"message":${messageJson}}`;
}

const ECHO_OVERHEAD_BYTES = ',"connectionId":""'.length + LIMITS.connectionIdMaxChars;

/**
 * What the sender of an echo alone receives: its message, verbatim as in messageFrame, and its
 * own connection id — which a client needs to be addressed (`send-data --to`, the smoke test).
 */
export function echoFrame(messageJson: string, connectionId: string): string {
  return `{"message":${messageJson},"connectionId":${JSON.stringify(connectionId)}}`;
}

/** What the sender alone receives when its frame cannot be handled. */
export function errorFrame(error: ProtocolError): string {
  return JSON.stringify({ error: { code: error.code, message: error.message } });
}
