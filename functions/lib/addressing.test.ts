import type { SNSMessageAttributes } from "aws-lambda";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LIMITS, MESSAGE_ATTRIBUTES } from "../contract.js";
import { addressedAttributes, connectionIdsProblem, readAddressing } from "./addressing.js";

/** What SNS hands Lambda for the attributes a publisher sent. */
function asDelivered(attributes: ReturnType<typeof addressedAttributes>): SNSMessageAttributes {
  return Object.fromEntries(
    Object.entries(attributes).map(([name, value]) => [
      name,
      { Type: String(value.DataType), Value: String(value.StringValue) },
    ]),
  );
}

const connectionId = fc.stringMatching(/^[A-Za-z0-9+/=_-]{1,64}$/);

describe("readAddressing", () => {
  it("addresses everyone when the message has no connectionIds attribute", () => {
    expect(readAddressing({ Other: { Type: "String", Value: "x" } })).toEqual({
      ok: true,
      addressing: { recipients: { kind: "everyone" }, attempt: 1 },
    });
    expect(readAddressing(undefined)).toMatchObject({ ok: true });
  });

  it("reads back exactly the distinct ids a publisher addressed (property)", () => {
    fc.assert(
      fc.property(
        fc.array(connectionId, { minLength: 1, maxLength: 50 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 2 ** 45 }),
        (ids, attempt, firstAttemptAt) => {
          const read = readAddressing(
            asDelivered(addressedAttributes(ids, { attempt, firstAttemptAt })),
          );
          expect(read).toEqual({
            ok: true,
            addressing: {
              recipients: { kind: "connections", connectionIds: [...new Set(ids)] },
              attempt,
              firstAttemptAt,
            },
          });
        },
      ),
    );
  });

  it("never reads a malformed address as everyone (property)", () => {
    fc.assert(
      fc.property(fc.string(), fc.constantFrom("String.Array", "String", "Number"), (v, type) => {
        const read = readAddressing({
          [MESSAGE_ATTRIBUTES.connectionIds]: { Type: type, Value: v },
        });
        if (read.ok) expect(read.addressing.recipients.kind).toBe("connections");
      }),
    );
  });
});

describe("connectionIdsProblem", () => {
  it("accepts up to the limit and refuses one more", () => {
    const ids = Array.from({ length: LIMITS.addressedConnectionsMax }, (_, i) => `id${i}=`);
    expect(connectionIdsProblem(ids)).toBeUndefined();
    expect(connectionIdsProblem([...ids, "one-more="])).toMatch(/over the limit/);
  });

  it("refuses an id longer than the limit", () => {
    expect(connectionIdsProblem(["a".repeat(LIMITS.connectionIdMaxChars + 1)])).toMatch(
      /is not a connection id/,
    );
  });
});
