import { describe, expect, it } from "vitest";
import { LIMITS } from "../functions/contract.js";
import { UsageError } from "./cli.js";
import { sendDataMessage, sendDataRecipients } from "./send-data-message.js";

describe("sendDataMessage", () => {
  it("passes valid JSON through exactly as typed", () => {
    const typed = '{ "hello" : [1, 2] }';
    expect(sendDataMessage(typed, { raw: false })).toBe(typed);
  });

  it("rejects text that is not JSON, saying how to quote it or to use --raw", () => {
    const attempt = () => sendDataMessage("{hello:world}", { raw: false });
    expect(attempt).toThrow(UsageError);
    expect(attempt).toThrow(/^The message is not valid JSON \(.+\): \{hello:world\}\n/);
    expect(attempt).toThrow(/'\{"hello":"world"\}'.*--raw/s);
  });

  it("sends anything with --raw", () => {
    expect(sendDataMessage("just words", { raw: true })).toBe("just words");
  });

  it("asks for a message when none is given", () => {
    expect(() => sendDataMessage(undefined, { raw: false })).toThrow(/Give the message to publish/);
  });

  it("rejects a message larger than a WebSocket client can be sent", () => {
    const big = JSON.stringify("x".repeat(LIMITS.messageBytes));
    expect(() => sendDataMessage(big, { raw: false })).toThrow(
      new RegExp(`at most ${LIMITS.messageBytes}`),
    );
  });
});

describe("sendDataRecipients", () => {
  it("means everyone when no --to is given", () => {
    expect(sendDataRecipients(undefined)).toBeUndefined();
    expect(sendDataRecipients([])).toBeUndefined();
  });

  it("keeps each id once", () => {
    expect(sendDataRecipients(["a+/=", "b=", "a+/="])).toEqual(["a+/=", "b="]);
  });

  it("refuses what is not a connection id, with a usage error", () => {
    expect(() => sendDataRecipients(["not an id"])).toThrow(UsageError);
    expect(() => sendDataRecipients(["not an id"])).toThrow(
      /--to must name connection ids: item 0/,
    );
  });

  it("refuses more ids than one message may address", () => {
    const ids = Array.from({ length: LIMITS.addressedConnectionsMax + 1 }, (_, i) => `c${i}`);
    expect(() => sendDataRecipients(ids)).toThrow(/over the limit of/);
  });
});
