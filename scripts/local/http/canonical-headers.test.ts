import { getCanonicalHeaders } from "@smithy/signature-v4";
import type { HttpRequest } from "@smithy/types";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalHeaders, canonicalHeaderValue, receivedHeader } from "./canonical-headers.js";

function requestWith(headers: Record<string, string>): HttpRequest {
  return { method: "POST", protocol: "http:", hostname: "", path: "/", headers };
}

/**
 * The SDK's route, as the signature check took it before: Node's headersDistinct (lowercase names,
 * repeated lines joined with ","), the signed headers copied out, then getCanonicalHeaders.
 */
function sdkCanonicalHeaders(
  rawHeaders: readonly string[],
  signedHeaders: readonly string[],
): Record<string, string> {
  const distinct = new Map<string, string[]>();
  for (let index = 0; index < rawHeaders.length; index += 2) {
    const name = (rawHeaders[index] as string).toLowerCase();
    distinct.set(name, [...(distinct.get(name) ?? []), rawHeaders[index + 1] as string]);
  }
  const signedOnly: Record<string, string> = {};
  for (const name of signedHeaders) {
    const values = distinct.get(name);
    if (values !== undefined) signedOnly[name] = values.join(",");
  }
  return getCanonicalHeaders(requestWith(signedOnly), undefined, new Set(signedHeaders));
}

const names = ["host", "x-amz-date", "content-type", "x-amz-security-token", "authorization"];
/** A name as a client might spell it: any case. */
const spelled = fc
  .tuple(fc.constantFrom(...names), fc.array(fc.boolean(), { minLength: 20, maxLength: 20 }))
  .map(([name, upper]) =>
    [...name].map((char, index) => (upper[index] ? char.toUpperCase() : char)).join(""),
  );
/** Values as a parser hands them over: blanks inside (runs, tabs), commas, no line breaks. */
const value = fc
  .array(fc.constantFrom("a", "B", "1", " ", "  ", "\t", ",", "=", "/"), { maxLength: 12 })
  .map((parts) => parts.join(""));

describe("canonicalHeaders", () => {
  it("equals the SDK's canonical headers for any received headers and any SignedHeaders list", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(spelled, value), { maxLength: 8 }),
        fc.array(fc.oneof(fc.constantFrom(...names), spelled, fc.constant("x-absent")), {
          maxLength: 6,
        }),
        (lines, signed) => {
          const rawHeaders = lines.flat();
          expect({ ...canonicalHeaders(rawHeaders, signed) }).toEqual(
            sdkCanonicalHeaders(rawHeaders, signed),
          );
        },
      ),
      { numRuns: 500 },
    );
  });

  it("leaves out a signed header the request does not carry, and every header not signed", () => {
    const rawHeaders = ["Host", "example", "X-Amz-Date", "20261201T000000Z", "X-Extra", "1"];
    expect({ ...canonicalHeaders(rawHeaders, ["host", "x-amz-date", "x-absent"]) }).toEqual({
      host: "example",
      "x-amz-date": "20261201T000000Z",
    });
  });

  it("treats a header named __proto__ as a header", () => {
    const canonical = canonicalHeaders(["__proto__", "v"], ["__proto__"]);
    expect(Object.entries(canonical)).toEqual([["__proto__", "v"]]);
  });
});

describe("canonicalHeaderValue", () => {
  it("folds any value as the SDK does: line breaks and blank runs to one space, ends trimmed once", () => {
    fc.assert(
      fc.property(
        fc
          .array(fc.constantFrom("a", " ", "\t", "\r", "\n", "\r\n", "  ", "x y"), {
            maxLength: 10,
          })
          .map((parts) => parts.join("")),
        (text) => {
          expect(canonicalHeaderValue(text)).toBe(
            getCanonicalHeaders(requestWith({ h: text }), undefined, new Set(["h"])).h,
          );
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("receivedHeader", () => {
  it("joins repeated lines with commas, whatever case each line's name has", () => {
    const rawHeaders = ["X-Amz-Meta", "one", "host", "h", "x-amz-meta", "two", "X-AMZ-META", "3"];
    expect(receivedHeader(rawHeaders, "x-amz-meta")).toBe("one,two,3");
    expect(receivedHeader(rawHeaders, "host")).toBe("h");
    expect(receivedHeader(rawHeaders, "x-amz-absent")).toBeUndefined();
  });
});
