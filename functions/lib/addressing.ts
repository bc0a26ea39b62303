import type { MessageAttributeValue } from "@aws-sdk/client-sns";
import type { SNSMessageAttributes } from "aws-lambda";
import { CONNECTION_ID_PATTERN, LIMITS, MESSAGE_ATTRIBUTES } from "../contract.js";

/**
 * Who an SNS message is for, read from its message attributes: everyone registered, or only the
 * connection ids its `connectionIds` attribute (String.Array) names. SNS hands a String.Array to
 * Lambda as `{"Type":"String.Array","Value":"[\"id1\",\"id2\"]"}` — the JSON text of the array.
 *
 * A malformed attribute never widens the audience: it is an error the caller reports, and the
 * message goes to no one (fanning out to everyone because an address was mistyped is the one
 * failure a "notify one user" message must not have).
 */

export type Recipients =
  | { readonly kind: "everyone" }
  | { readonly kind: "connections"; readonly connectionIds: readonly string[] };

export interface Addressing {
  readonly recipients: Recipients;
  /** 1 for a message as first published; n for the n-th delivery attempt of a handed-on copy. */
  readonly attempt: number;
  /** Epoch ms of the first attempt, for handed-on copies. */
  readonly firstAttemptAt?: number;
}

export type AddressingResult =
  | { readonly ok: true; readonly addressing: Addressing }
  | { readonly ok: false; readonly problem: string };

/** What is wrong with a list of connection ids, or undefined when it is a valid address. */
export function connectionIdsProblem(ids: readonly unknown[]): string | undefined {
  if (ids.length === 0) return "it names no connection id";
  if (ids.length > LIMITS.addressedConnectionsMax) {
    return `it names ${ids.length} connection ids, over the limit of ${LIMITS.addressedConnectionsMax} per message; split them over several messages`;
  }
  for (const [index, id] of ids.entries()) {
    if (typeof id !== "string") {
      return `item ${index} is ${id === null ? "null" : typeof id}, not a connection id string`;
    }
    if (id.length > LIMITS.connectionIdMaxChars || !CONNECTION_ID_PATTERN.test(id)) {
      return `item ${index} (${JSON.stringify(id.slice(0, 80))}) is not a connection id: expected 1 to ${LIMITS.connectionIdMaxChars} characters of A-Z a-z 0-9 + / = _ -`;
    }
  }
  return undefined;
}

function positiveInteger(
  attributes: SNSMessageAttributes,
  name: string,
): number | string | undefined {
  const attribute = attributes[name];
  if (attribute === undefined) return undefined;
  const value = Number(attribute.Value);
  if (attribute.Type !== "Number" || !Number.isSafeInteger(value) || value < 1) {
    return `the "${name}" attribute must be a Number holding a positive integer (got ${attribute.Type} ${JSON.stringify(attribute.Value.slice(0, 40))})`;
  }
  return value;
}

/** Reads the recipients and the delivery attempt from a record's MessageAttributes. */
export function readAddressing(attributes: SNSMessageAttributes | undefined): AddressingResult {
  const all = attributes ?? {};
  const attempt = positiveInteger(all, MESSAGE_ATTRIBUTES.deliveryAttempt);
  if (typeof attempt === "string") return { ok: false, problem: attempt };
  const firstAttemptAt = positiveInteger(all, MESSAGE_ATTRIBUTES.firstAttemptAt);
  if (typeof firstAttemptAt === "string") return { ok: false, problem: firstAttemptAt };
  const timing = {
    attempt: attempt ?? 1,
    ...(firstAttemptAt === undefined ? {} : { firstAttemptAt }),
  };

  const attribute = all[MESSAGE_ATTRIBUTES.connectionIds];
  if (attribute === undefined) {
    return { ok: true, addressing: { recipients: { kind: "everyone" }, ...timing } };
  }
  const name = MESSAGE_ATTRIBUTES.connectionIds;
  if (attribute.Type !== "String.Array") {
    return {
      ok: false,
      problem: `the "${name}" attribute is of type ${attribute.Type}; it must be String.Array, e.g. ["L0SM9cOFvHcCIhw="]`,
    };
  }
  let ids: unknown;
  try {
    ids = JSON.parse(attribute.Value);
  } catch {
    return { ok: false, problem: `the "${name}" attribute is not a JSON array` };
  }
  if (!Array.isArray(ids)) {
    return { ok: false, problem: `the "${name}" attribute is not a JSON array` };
  }
  const problem = connectionIdsProblem(ids);
  if (problem !== undefined) {
    return { ok: false, problem: `the "${name}" attribute is not a valid address: ${problem}` };
  }
  // Each connection receives a message once, however often the address names it.
  const connectionIds = [...new Set(ids as string[])];
  return {
    ok: true,
    addressing: { recipients: { kind: "connections", connectionIds }, ...timing },
  };
}

/** The attributes that address a message to `connectionIds` (for PublishCommand). */
export function addressedAttributes(
  connectionIds: readonly string[],
  redelivery?: { readonly attempt: number; readonly firstAttemptAt: number },
): Record<string, MessageAttributeValue> {
  const attributes: Record<string, MessageAttributeValue> = {
    [MESSAGE_ATTRIBUTES.connectionIds]: {
      DataType: "String.Array",
      StringValue: JSON.stringify(connectionIds),
    },
  };
  if (redelivery !== undefined) {
    attributes[MESSAGE_ATTRIBUTES.deliveryAttempt] = {
      DataType: "Number",
      StringValue: String(redelivery.attempt),
    };
    attributes[MESSAGE_ATTRIBUTES.firstAttemptAt] = {
      DataType: "Number",
      StringValue: String(redelivery.firstAttemptAt),
    };
  }
  return attributes;
}
