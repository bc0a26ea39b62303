import { describe, expect, it } from "vitest";
import { LIMITS } from "../contract.js";
import { ERROR_CODES, echoFrame, errorFrame, messageFrame, parseFrame } from "./protocol.js";

describe("parseFrame", () => {
  it("turns a broadcast into the frame every connection receives", () => {
    expect(parseFrame('{"action":"broadcast","message":{"a":[1,"b"]}}')).toEqual({
      ok: true,
      command: { action: "broadcast", frame: '{"message":{"a":[1,"b"]}}' },
    });
  });

  it("ignores fields other than action and message", () => {
    expect(parseFrame('{"action":"broadcast","message":"x","extra":true}')).toEqual({
      ok: true,
      command: { action: "broadcast", frame: '{"message":"x"}' },
    });
  });

  it("passes sendmessage data through untouched", () => {
    expect(parseFrame('{"action":"sendmessage","data":"  {not json} "}')).toEqual({
      ok: true,
      command: { action: "sendmessage", frame: "  {not json} " },
    });
  });

  it("decodes a base64 (binary) body before parsing", () => {
    const body = Buffer.from('{"action":"sendmessage","data":"bin"}').toString("base64");
    expect(parseFrame(body, true)).toMatchObject({ ok: true, command: { frame: "bin" } });
  });

  it("accepts a message exactly at the size limit", () => {
    const data = "d".repeat(LIMITS.messageBytes - '{"action":"sendmessage","data":""}'.length);
    const body = JSON.stringify({ action: "sendmessage", data });
    expect(Buffer.byteLength(body)).toBe(LIMITS.messageBytes);
    expect(parseFrame(body)).toMatchObject({ ok: true });
  });

  it("rejects a message one byte over the limit, counting bytes not characters", () => {
    const filler = "é".repeat(LIMITS.messageBytes / 2);
    const body = JSON.stringify({ action: "sendmessage", data: filler });
    expect(body.length).toBeLessThan(LIMITS.messageBytes);

    const result = parseFrame(body);

    expect(result).toEqual({
      ok: false,
      error: {
        code: ERROR_CODES.tooLarge,
        message: expect.stringContaining(`${Buffer.byteLength(body)} bytes`),
      },
    });
  });

  it.each([
    ["a number beyond a double", "1e400"],
    ["an integer beyond 2^53", "9007199254740993"],
    ["a long integer", "123456789012345678901234567890"],
    ["a number in exponent form", "1E+9"],
    ["spaced-out JSON", '{ "a" : [ 1 , 2 ] }'],
  ])("delivers %s exactly as the sender wrote it", (_, message) => {
    expect(parseFrame(`{"action":"broadcast","message":${message}}`)).toEqual({
      ok: true,
      command: { action: "broadcast", frame: `{"message":${message}}` },
    });
  });

  it("delivers a broadcast nested 5,000 deep instead of overflowing the stack", () => {
    const message = `${"[".repeat(5000)}${"]".repeat(5000)}`;
    expect(parseFrame(`{"action":"broadcast","message":${message}}`)).toEqual({
      ok: true,
      command: { action: "broadcast", frame: `{"message":${message}}` },
    });
  });

  it("turns an echo into the sender's message text, for the frame its sender alone receives", () => {
    expect(parseFrame('{"action":"echo","message":{"n":1e400}}')).toEqual({
      ok: true,
      command: { action: "echo", message: '{"n":1e400}' },
    });
    expect(echoFrame('{"n":1e400}', "ab+/=")).toBe(
      '{"message":{"n":1e400},"connectionId":"ab+/="}',
    );
  });

  it.each([
    ["true", ERROR_CODES.notObject, /a boolean/],
    ["null", ERROR_CODES.notObject, /null/],
    ['{"action":null}', ERROR_CODES.wrongType, /"action" is null/],
    ['{"action":["broadcast"]}', ERROR_CODES.wrongType, /an array/],
    ['{"action":"sendmessage","data":42}', ERROR_CODES.wrongType, /a number/],
    ['{"action":"BROADCAST","message":1}', ERROR_CODES.unknownAction, /"BROADCAST"/],
    ['{"action":"echo"}', ERROR_CODES.missingField, /"echo" needs a "message" field/],
    ["{", ERROR_CODES.notJson, /Send a JSON object such as/],
  ])("explains what is wrong with %s", (body, code, message) => {
    expect(parseFrame(body)).toEqual({
      ok: false,
      error: { code, message: expect.stringMatching(message) },
    });
  });

  it("keeps a huge unknown action out of the error message", () => {
    const result = parseFrame(JSON.stringify({ action: "a".repeat(10_000) }));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.message.length).toBeLessThan(300);
  });
});

describe("outbound frames", () => {
  it("wraps a broadcast's message text as {message}", () => {
    expect(messageFrame("[1, null]")).toBe('{"message":[1, null]}');
  });

  it("formats errors as {error: {code, message}}", () => {
    expect(JSON.parse(errorFrame({ code: ERROR_CODES.notJson, message: "m" }))).toEqual({
      error: { code: "not_json", message: "m" },
    });
  });
});
