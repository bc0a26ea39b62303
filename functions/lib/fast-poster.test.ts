import {
  createServer,
  type IncomingHttpHeaders,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import type { AwsCredentialIdentity } from "@smithy/types";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { LIMITS } from "../contract.js";
import { FastPoster, memoizedCredentials, regionOf } from "./fast-poster.js";

/**
 * The fast poster's request, byte for byte. The shared wire behaviour (Gone, throttling, Forbidden)
 * is tested for both posters in poster.test.ts and delivery.wire.test.ts.
 */

const SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SIGNING_TIME = Date.parse("2026-11-30T12:34:56Z");

/**
 * Produced once by the SDK client itself (ApiGatewayManagementApiClient 3.1169, PostToConnection of
 * `{"message":"hé"}` to "ab+c/d=" at SIGNING_TIME with these credentials), with the headers that
 * change per call or per SDK release (user agents, amz-sdk-invocation-id / -request) removed before
 * signing. Everything else the SDK sent is here, signed.
 */
const SDK_VECTOR = {
  endpoint: "https://abc123def4.execute-api.eu-west-1.amazonaws.com/dev",
  credentials: {
    accessKeyId: "AKIDEXAMPLE",
    secretAccessKey: SECRET,
    sessionToken: "IQoJb3JpZ2luX2VjEXAMPLETOKEN+/=",
  },
  connectionId: "ab+c/d=",
  frame: '{"message":"hé"}',
  path: "/dev/@connections/ab%2Bc%2Fd%3D",
  headers: {
    "content-type": "application/octet-stream",
    "content-length": "17",
    host: "abc123def4.execute-api.eu-west-1.amazonaws.com",
    "x-amz-date": "20261130T123456Z",
    "x-amz-security-token": "IQoJb3JpZ2luX2VjEXAMPLETOKEN+/=",
    "x-amz-content-sha256": "85c7bfa034a78f7e783fafdb61eba1e7ad6274073b3630b68802934578c0a510",
    authorization:
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261130/eu-west-1/execute-api/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=b29ae621ddfeb730bb76532aff2eb2d66916034c709f5a5cad4d724ece07d262",
  },
} as const;

describe("the signed request", () => {
  it("is the one the SDK client signs: path, headers and Authorization byte for byte", async () => {
    const poster = new FastPoster(SDK_VECTOR.endpoint, {
      credentials: async () => SDK_VECTOR.credentials,
      now: () => SIGNING_TIME,
    });

    const signed = await poster.signedRequest(SDK_VECTOR.connectionId, SDK_VECTOR.frame);

    expect(signed.path).toBe(SDK_VECTOR.path);
    expect(signed.headers).toEqual(SDK_VECTOR.headers);
    expect(signed.body).toBe(SDK_VECTOR.frame);
  });

  it("signs for the region the endpoint names, else AWS_REGION", () => {
    expect(regionOf(new URL(SDK_VECTOR.endpoint), {})).toBe("eu-west-1");
    expect(regionOf(new URL("http://127.0.0.1:3001/local"), { AWS_REGION: "us-east-2" })).toBe(
      "us-east-2",
    );
    expect(() => regionOf(new URL("http://127.0.0.1:3001/local"), {})).toThrow(/Set AWS_REGION/);
  });
});

interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly socket: number;
}

describe("over an HTTP server", () => {
  const received: Received[] = [];
  let replies: ((res: ServerResponse) => void)[] = [];
  const sockets = new Map<object, number>();
  let server: Server;
  let endpoint: string;
  const credentials = { accessKeyId: "AKIDLOCAL", secretAccessKey: SECRET, sessionToken: "tok" };

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        if (!sockets.has(req.socket)) sockets.set(req.socket, sockets.size + 1);
        received.push({
          method: req.method ?? "",
          url: req.url ?? "",
          headers: req.headers,
          body: Buffer.concat(chunks).toString("utf8"),
          socket: sockets.get(req.socket) ?? 0,
        });
        const reply = replies.shift();
        if (reply) reply(res);
        else res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/local`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    received.length = 0;
    replies = [];
  });

  const poster = (now = () => SIGNING_TIME) =>
    new FastPoster(endpoint, {
      credentials: async () => credentials,
      region: "us-east-1",
      now,
      baseDelayMs: 1,
    });

  it("waits for a late answer instead of posting a second copy once the request was written", async () => {
    // A slow @connections: the frame is delivered, the answer comes 50 ms later — fifty times the
    // send timeout, which must no longer apply once the request is written.
    replies = [(res) => void setTimeout(() => res.writeHead(200).end(), 50)];
    const fast = new FastPoster(endpoint, {
      credentials: async () => credentials,
      region: "us-east-1",
      baseDelayMs: 1,
      sendTimeoutMs: 1,
      answerTimeoutMs: 10_000,
    });

    expect(await fast.post("late", "hello")).toEqual({ status: "delivered" });
    fast.close();
    expect(received).toHaveLength(1);
  });

  it("retries a written request whose answer never comes within the answer timeout (positive control)", async () => {
    let held: ServerResponse | undefined;
    replies = [
      (res) => {
        held = res;
      },
    ];
    const fast = new FastPoster(endpoint, {
      credentials: async () => credentials,
      region: "us-east-1",
      baseDelayMs: 1,
      answerTimeoutMs: 20,
    });

    expect(await fast.post("silent", "hello")).toEqual({ status: "delivered" });
    fast.close();
    held?.destroy();
    expect(received.map((request) => request.url)).toEqual([
      "/local/@connections/silent",
      "/local/@connections/silent",
    ]);
  });

  it("sends exactly the signed request: POST, the encoded path, the signed headers, the raw bytes", async () => {
    const fast = poster();
    const expected = await fast.signedRequest("A+b/C=", "héllo");

    expect(await fast.post("A+b/C=", "héllo")).toEqual({ status: "delivered" });
    fast.close();

    expect(received).toHaveLength(1);
    const [request] = received;
    expect(request?.method).toBe("POST");
    expect(request?.url).toBe("/local/@connections/A%2Bb%2FC%3D");
    expect(request?.body).toBe("héllo");
    for (const [name, value] of Object.entries(expected.headers)) {
      expect(request?.headers[name], name).toBe(value);
    }
    expect(request?.headers["content-type"]).toBe("application/octet-stream");
    expect(request?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDLOCAL\/20261130\/us-east-1\/execute-api\/aws4_request, /,
    );
  });

  it("reuses one keep-alive connection for consecutive posts", async () => {
    const fast = poster();
    for (const id of ["a", "b", "c"])
      expect(await fast.post(id, "x")).toEqual({ status: "delivered" });
    fast.close();

    expect(received.map((r) => r.socket)).toEqual(Array(3).fill(received[0]?.socket));
  });

  it("retries a 5xx and delivers on the next attempt", async () => {
    replies = [
      (res) => res.writeHead(503, { "x-amzn-errortype": "InternalServerErrorException" }).end("{}"),
    ];
    const fast = poster();

    expect(await fast.post("a", "x")).toEqual({ status: "delivered" });
    fast.close();
    expect(received).toHaveLength(2);
  });

  it("does not retry a PayloadTooLargeException, and names it", async () => {
    replies = [
      (res) =>
        res
          .writeHead(413, {
            "x-amzn-errortype": "PayloadTooLargeException:http://internal.amazon.com/",
          })
          .end('{"message":"Message too long"}'),
    ];
    const fast = poster();

    expect(await fast.post("a", "x")).toEqual({
      status: "failed",
      error: "PayloadTooLargeException (HTTP 413): Message too long",
      statusCode: 413,
    });
    fast.close();
    expect(received).toHaveLength(1);
  });

  it("recognises Gone from the JSON body's __type as the SDK does", async () => {
    replies = [(res) => res.writeHead(410).end('{"__type":"GoneException"}')];
    const fast = poster();

    expect(await fast.post("stale", "x")).toEqual({ status: "gone" });
    fast.close();
  });

  it("stops retrying once its retry budget is spent, as the SDK's token bucket does", async () => {
    // Every post answers 503: each retry costs 5 of the 500 tokens, so 100 retries in all.
    const failing = (res: ServerResponse) =>
      res.writeHead(503, { "x-amzn-errortype": "ServiceUnavailableException" }).end("{}");
    replies = Array.from({ length: 1000 }, () => failing);
    const fast = poster();
    const outcomes = [];
    for (let i = 0; i < 60; i += 1) outcomes.push(await fast.post(`id${i}`, "x"));
    fast.close();

    // Positive control: the first posts were retried up to the attempt limit.
    expect(received.filter((r) => r.url.endsWith("/id0"))).toHaveLength(LIMITS.deliveryMaxAttempts);
    expect(received).toHaveLength(60 + 100);
    expect(received.filter((r) => r.url.endsWith("/id59"))).toHaveLength(1);
    expect(outcomes.every((o) => o.status === "failed" && o.statusCode === 503)).toBe(true);
  });

  it("signs with new credentials once the old ones are about to expire", async () => {
    let clock = SIGNING_TIME;
    const issued: AwsCredentialIdentity[] = [
      {
        accessKeyId: "AKIDFIRST",
        secretAccessKey: SECRET,
        sessionToken: "first",
        expiration: new Date(SIGNING_TIME + 15 * 60_000),
      },
      {
        accessKeyId: "AKIDSECOND",
        secretAccessKey: SECRET,
        sessionToken: "second",
        expiration: new Date(SIGNING_TIME + 75 * 60_000),
      },
    ];
    let calls = 0;
    const fast = new FastPoster(endpoint, {
      credentials: async () => {
        const next = issued[Math.min(calls, issued.length - 1)];
        calls += 1;
        if (next === undefined) throw new Error("no credentials");
        return next;
      },
      region: "us-east-1",
      now: () => clock,
    });

    await fast.post("a", "x");
    await fast.post("b", "x");
    clock += 11 * 60_000; // within five minutes of the first credentials' expiry
    await fast.post("c", "x");
    fast.close();

    expect(calls).toBe(2);
    expect(received.map((r) => r.headers["x-amz-security-token"])).toEqual([
      "first",
      "first",
      "second",
    ]);
    expect(received[2]?.headers.authorization).toMatch(/Credential=AKIDSECOND\//);
  });
});

describe("memoizedCredentials", () => {
  it("calls the provider once for concurrent callers and keeps credentials without an expiry", async () => {
    let calls = 0;
    const provider = memoizedCredentials(async () => {
      calls += 1;
      return { accessKeyId: "AKID", secretAccessKey: SECRET };
    });

    await Promise.all([provider(), provider(), provider()]);
    await provider();

    expect(calls).toBe(1);
  });

  it("asks again after a failed call", async () => {
    let calls = 0;
    const provider = memoizedCredentials(async () => {
      calls += 1;
      if (calls === 1) throw new Error("metadata service unavailable");
      return { accessKeyId: "AKID", secretAccessKey: SECRET };
    });

    await expect(provider()).rejects.toThrow(/metadata service/);
    await expect(provider()).resolves.toMatchObject({ accessKeyId: "AKID" });
  });
});
