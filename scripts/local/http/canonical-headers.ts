import type { HeaderBag } from "@smithy/types";

/**
 * The headers part of SigV4's canonical request, for a request as a listener received it: what the
 * SDK's getCanonicalHeaders gives for the headers a signature names, worked out straight from
 * `rawHeaders`. The signature check runs on every request a listener serves (each post of a
 * fan-out), and the SDK's route there (Node's `headersDistinct` arrays, a copy of the signed
 * headers, three regular expressions per value) was a large share of its cost.
 * canonical-headers.test.ts checks the result against the SDK's on generated requests.
 */

/**
 * A header's value as received: repeated lines joined with ",", as SigV4 joins them. Names in
 * rawHeaders keep the client's case; `name` is lowercase.
 */
export function receivedHeader(rawHeaders: readonly string[], name: string): string | undefined {
  let value: string | undefined;
  for (let index = 0; index < rawHeaders.length; index += 2) {
    const received = rawHeaders[index] as string;
    if (received.length !== name.length || received.toLowerCase() !== name) continue;
    const line = rawHeaders[index + 1] as string;
    value = value === undefined ? line : `${value},${line}`;
  }
  return value;
}

/** Anything the SDK's folding would change: line breaks, tabs, runs of spaces, outer spaces. */
const UNFOLDED = /[\r\n\t]| {2}|^ | $/;

/** A value as SigV4 signs it: line breaks and runs of blanks become one space, one space trimmed each end. */
export function canonicalHeaderValue(value: string): string {
  if (!UNFOLDED.test(value)) return value;
  return value
    .replace(/[\r\n]/g, " ")
    .replace(/[ \t]+/g, " ")
    .replace(/^ | $/g, "");
}

/**
 * The canonical headers of the headers a signature names (`signedHeaders`, its SignedHeaders list)
 * that the request carries, by name. A name that is not lowercase matches nothing, as it matched
 * no key of Node's lowercased `headersDistinct` before (SigV4 clients sign lowercase names). No
 * prototype, so a header named `__proto__` is a header.
 */
export function canonicalHeaders(
  rawHeaders: readonly string[],
  signedHeaders: readonly string[],
): HeaderBag {
  const canonical: HeaderBag = Object.create(null);
  for (const name of signedHeaders) {
    const value = receivedHeader(rawHeaders, name);
    if (value !== undefined) canonical[name] = canonicalHeaderValue(value);
  }
  return canonical;
}
