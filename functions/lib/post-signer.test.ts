import { Sha256 } from "@smithy/core/checksum";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AwsCredentialIdentity } from "@smithy/types";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PostSigner } from "./post-signer.js";

/**
 * The post signer against the SDK's own SignatureV4 on the same inputs: whatever the id, frame,
 * endpoint, date or credentials, the path and every header (Authorization included) must be the
 * ones SignatureV4.sign gives the request PostToConnection sends. fast-poster.test.ts holds a
 * vector captured from the SDK client itself.
 */

async function sdkSign(
  endpoint: URL,
  region: string,
  path: string,
  frame: string,
  credentials: AwsCredentialIdentity,
  now: number,
): Promise<Record<string, string>> {
  const signer = new SignatureV4({ service: "execute-api", region, credentials, sha256: Sha256 });
  const signed = await signer.sign(
    {
      method: "POST",
      protocol: endpoint.protocol,
      hostname: endpoint.hostname,
      ...(endpoint.port === "" ? {} : { port: Number(endpoint.port) }),
      path,
      query: {},
      headers: {
        "content-type": "application/octet-stream",
        "content-length": String(Buffer.byteLength(frame, "utf8")),
        host: endpoint.host,
      },
      body: frame,
    },
    { signingDate: new Date(now) },
  );
  return signed.headers;
}

const CONNECTION_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-";

const connectionId = fc.oneof(
  // What API Gateway issues (and the contract accepts): base64-like ids.
  fc
    .array(fc.constantFrom(...CONNECTION_ID_CHARS), { minLength: 1, maxLength: 64 })
    .map((chars) => chars.join("")),
  // Anything else a caller might pass: the encoding must still match the SDK's.
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 20 }),
);

const endpoint = fc
  .record({
    secure: fc.boolean(),
    host: fc.constantFrom(
      "abc123def4.execute-api.eu-west-1.amazonaws.com",
      "127.0.0.1",
      "ws.example.com",
    ),
    port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
    base: fc.constantFrom("", "/", "/dev", "/prod/", "/a b/st@ge", "/x/./y", "/x/../dev"),
  })
  .map(
    ({ secure, host, port, base }) =>
      new URL(
        `${secure ? "https" : "http"}://${host}${port === undefined ? "" : `:${port}`}${base}`,
      ),
  );

const credentials = fc.record(
  {
    accessKeyId: fc.stringMatching(/^[A-Z0-9]{16,20}$/),
    secretAccessKey: fc.string({ minLength: 1, maxLength: 40 }),
    sessionToken: fc.option(fc.stringMatching(/^[A-Za-z0-9+/=]{1,80}$/), { nil: undefined }),
  },
  { requiredKeys: ["accessKeyId", "secretAccessKey"] },
);

describe("PostSigner", () => {
  it("signs exactly as the SDK's SignatureV4 does, for any id, frame, endpoint, date and credentials", async () => {
    await fc.assert(
      fc.asyncProperty(
        endpoint,
        fc.constantFrom("us-east-1", "eu-west-1", "ap-southeast-2"),
        connectionId,
        fc.string({ unit: "grapheme", maxLength: 200 }),
        credentials,
        fc.integer({ min: Date.parse("2020-01-01"), max: Date.parse("2035-01-01") }),
        async (url, region, id, frame, identity, now) => {
          const signer = new PostSigner(url, region, "execute-api");
          fc.pre(signer.covers(id));

          const signed = await signer.sign(id, frame, identity, now);

          expect(signed.path).toBe(signer.path(id));
          expect(signed.body).toBe(frame);
          expect(signed.headers).toEqual(
            await sdkSign(url, region, signed.path, frame, identity, now),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it("keeps signing correctly as the date, the frame and the credentials change under it", async () => {
    const url = new URL("https://abc123def4.execute-api.eu-west-1.amazonaws.com/dev");
    const signer = new PostSigner(url, "eu-west-1", "execute-api");
    const first = { accessKeyId: "AKIDFIRST", secretAccessKey: "one", sessionToken: "t1" };
    const second = { accessKeyId: "AKIDSECOND", secretAccessKey: "two", sessionToken: "t2" };
    const midnight = Date.parse("2026-11-30T23:59:59.500Z");
    const steps: [string, string, AwsCredentialIdentity, number][] = [
      ["a+/=", "x", first, midnight],
      ["b", "x", first, midnight + 400], // same second
      ["c", "y", first, midnight + 600], // next second, next day: a new signing key
      ["d", "y", second, midnight + 700], // rotated credentials, same day
      ["e", "x", second, midnight + 800], // an earlier frame again
    ];
    for (const [id, frame, identity, now] of steps) {
      const signed = await signer.sign(id, frame, identity, now);
      expect(signed.headers, id).toEqual(
        await sdkSign(url, "eu-west-1", signed.path, frame, identity, now),
      );
    }
  });

  it("leaves ids SigV4 would normalize away to the SDK's signer", () => {
    const signer = new PostSigner(new URL("http://127.0.0.1:1/local"), "us-east-1", "execute-api");

    expect([".", "..", ""].map((id) => signer.covers(id))).toEqual([false, false, false]);
    expect(signer.covers("...")).toBe(true);
    expect(signer.path("a+b/c=")).toBe("/local/@connections/a%2Bb%2Fc%3D");
    // covers() reads the id, not its encoding: the same answer for any id.
    const prefix = "/local/@connections/".length;
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: fc.constantFrom(".", "%", "a", "+", "é") })),
        (id) => {
          const encoded = signer.path(id).slice(prefix);
          expect(signer.covers(id)).toBe(!["", ".", ".."].includes(encoded));
        },
      ),
    );
  });
});
