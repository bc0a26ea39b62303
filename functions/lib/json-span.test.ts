import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { memberText } from "./json-span.js";

/** JSON text of a value, with arbitrary (legal) whitespace between tokens. */
const whitespace = fc.stringMatching(/^[ \t\n\r]{0,3}$/);

/** An object's text built member by member, so the exact text of each value is known. */
const objectText = fc
  .array(
    fc.record({
      key: fc.oneof(fc.constant("message"), fc.constant("action"), fc.string({ maxLength: 8 })),
      value: fc.json({ maxDepth: 4 }),
      before: whitespace,
      after: whitespace,
    }),
    { maxLength: 6 },
  )
  .chain((members) =>
    fc.tuple(fc.constant(members), whitespace, whitespace).map(([list, open, close]) => ({
      members: list,
      text: `{${open}${list
        .map((m) => `${JSON.stringify(m.key)}${m.before}:${m.after}${m.value}${m.after}`)
        .join(",")}${close}}`,
    })),
  );

describe("memberText", () => {
  it("returns the exact text of the last member with the key, whatever the whitespace (property)", () => {
    fc.assert(
      fc.property(objectText, ({ members, text }) => {
        const parsed = JSON.parse(text) as Record<string, unknown>;
        const last = members.filter((m) => m.key === "message").at(-1);
        const raw = memberText(text, "message");
        if (last === undefined) {
          expect(raw).toBeUndefined();
          return;
        }
        expect(raw).toBe(last.value);
        // Structurally the same value JSON.parse sees.
        expect(JSON.parse(raw as string)).toEqual(parsed.message);
      }),
      { numRuns: 500 },
    );
  });

  it("finds any key of any JSON object text JSON.stringify writes (property)", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue()), (object) => {
        const text = JSON.stringify(object, null, 1);
        for (const key of Object.keys(object)) {
          const raw = memberText(text, key);
          expect(raw).toBeDefined();
          expect(JSON.parse(raw as string)).toEqual(JSON.parse(text)[key]);
        }
      }),
      { numRuns: 300 },
    );
  });

  it.each([
    ["a number beyond a double", "1e400"],
    ["an integer beyond 2^53", "9007199254740993"],
    ["a long integer", "123456789012345678901234567890"],
    ["a string holding quotes, braces and escapes", '"a \\"}] \\\\ \\u00e9"'],
    ["nested values", '{ "a" : [1, {"b":"]"}] }'],
  ])("keeps %s exactly as written", (_, value) => {
    expect(memberText(`{"action":"broadcast","message":${value}}`, "message")).toBe(value);
  });

  it("compares keys after unescaping, as JSON.parse does", () => {
    expect(memberText('{"mess\\u0061ge":1}', "message")).toBe("1");
  });

  it("scans 100,000 levels of nesting without using the stack", () => {
    const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
    expect(memberText(`{"message":${deep}}`, "message")).toBe(deep);
  });

  it("answers undefined for a missing key or a text that is not an object", () => {
    expect(memberText('{"action":"echo"}', "message")).toBeUndefined();
    expect(memberText('["message"]', "message")).toBeUndefined();
    expect(memberText('"message"', "message")).toBeUndefined();
  });
});
