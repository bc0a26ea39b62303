import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readBody } from "./request-body.js";
import {
  cachedSigningKeys,
  checkSignature,
  generateStageCredentials,
  isLoopbackHost,
  type SignaturePolicy,
  type SignedService,
} from "./request-signature.js";
import { presignedUrl, signedFetch } from "./signed-fetch.js";

const stageCredentials = { accessKeyId: "STAGEKEY", secretAccessKey: "stage-secret" };
const foreign = { accessKeyId: "AKIAFOREIGN", secretAccessKey: "whatever" };
const wrongSecret = { accessKeyId: "STAGEKEY", secretAccessKey: "not-the-secret" };

/** One server per service and mode: 200 "served" when the signature passes. */
async function serve(policy: SignaturePolicy): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    readBody(request, 1024 * 1024)
      .then(async (body) => {
        const rejected = await checkSignature(request, body, policy);
        if (rejected === undefined) response.writeHead(200).end("served");
        else response.writeHead(rejected.status, rejected.headers).end(rejected.body);
      })
      .catch((error: unknown) => response.writeHead(500).end(String(error)));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const services: readonly SignedService[] = ["s3", "sns", "execute-api"];
const loopback = new Map<SignedService, string>();
const strict = new Map<SignedService, string>();
const servers: Server[] = [];

beforeAll(async () => {
  for (const service of services) {
    for (const [mode, urls] of [
      [false, loopback],
      [true, strict],
    ] as const) {
      const { server, url } = await serve({ service, strict: mode, stageCredentials });
      servers.push(server);
      urls.set(service, url);
    }
  }
});

afterAll(async () => {
  await Promise.all(
    servers.map((server) => {
      server.close();
      return once(server, "close");
    }),
  );
});

/** Status and error code of an answer, in whichever shape the service gives it. */
async function outcome(response: Response): Promise<string> {
  const text = await response.text();
  const code =
    response.headers.get("x-amzn-errortype") ??
    /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ??
    response.headers.get("x-amz-error-code") ??
    text;
  return `${response.status} ${code}`;
}

const path: Record<SignedService, string> = {
  s3: "/bucket/key%2Bwith%20escapes?list-type=2&prefix=a%2Fb",
  sns: "/",
  "execute-api": "/local/%40connections/ab%2Bc%2Fd%3D",
  lambda: "/2015-03-31/functions/fanout/invocations",
};
const form =
  "Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A000000000000%3Atopic&Message=hi";

function send(
  service: SignedService,
  credentials: { accessKeyId: string; secretAccessKey: string } | undefined,
  options: { strict?: boolean; signingDate?: Date; body?: string; tamper?: string } = {},
) {
  const url = `${(options.strict ? strict : loopback).get(service)}${path[service]}`;
  const body = options.body ?? (service === "s3" ? undefined : form);
  const init = {
    method: body === undefined ? "GET" : "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    ...(body === undefined ? {} : { body }),
  };
  if (credentials === undefined) return fetch(url, init);
  return signedFetch(url, init, {
    service,
    credentials,
    ...(options.signingDate === undefined ? {} : { signingDate: options.signingDate }),
  });
}

describe("checkSignature", () => {
  it("answers a request without a signature with each service's own 403", async () => {
    const s3 = await fetch(`${loopback.get("s3")}/bucket/key`);
    expect(s3.status).toBe(403);
    expect(await s3.text()).toMatch(/^<\?xml[^>]*>\n<Error><Code>AccessDenied<\/Code><Message>/);
    const sns = await fetch(`${loopback.get("sns")}/`, { method: "POST", body: form });
    expect(sns.status).toBe(403);
    expect(await sns.text()).toMatch(
      /<ErrorResponse xmlns="http:\/\/sns.amazonaws.com\/doc\/2010-03-31\/"><Error><Type>Sender<\/Type><Code>MissingAuthenticationToken<\/Code>/,
    );
    const api = await fetch(`${loopback.get("execute-api")}${path["execute-api"]}`, {
      method: "POST",
      body: "x",
    });
    expect(api.status).toBe(403);
    expect(api.headers.get("x-amzn-errortype")).toBe("MissingAuthenticationTokenException");
    expect(await api.json()).toEqual({ message: "Missing Authentication Token" });
    // HEAD gets the code in a header and no body, as S3 answers HEAD.
    const head = await fetch(`${loopback.get("s3")}/bucket/key`, { method: "HEAD" });
    expect(await outcome(head)).toBe("403 AccessDenied");
  });

  it("stops a browser's cross-origin form POST: no signature, nothing served", async () => {
    // What <form method=post action=http://127.0.0.1:3003/> sends: a simple request, no preflight.
    const response = await fetch(`${loopback.get("sns")}/`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        origin: "https://attacker.example",
      },
      body: form,
    });
    expect(await outcome(response)).toBe("403 MissingAuthenticationToken");
  });

  it("accepts any access key on loopback, as local emulators do", async () => {
    for (const service of services) {
      expect(await outcome(await send(service, foreign)), service).toBe("200 served");
    }
  });

  it("verifies the stage's own key: the right secret passes, a wrong one is refused", async () => {
    for (const service of services) {
      expect(await outcome(await send(service, stageCredentials)), service).toBe("200 served");
    }
    expect(await outcome(await send("s3", wrongSecret))).toBe("403 SignatureDoesNotMatch");
    expect(await outcome(await send("sns", wrongSecret))).toBe("403 SignatureDoesNotMatch");
    expect(await outcome(await send("execute-api", wrongSecret))).toBe(
      "403 InvalidSignatureException",
    );
  });

  it("keeps refusing a wrong secret once the right one's signing key is cached", async () => {
    // Twice each way, in both orders: a key cached by an accepted request verifies nothing else.
    for (let round = 0; round < 2; round++) {
      expect(await outcome(await send("s3", stageCredentials))).toBe("200 served");
      expect(await outcome(await send("s3", wrongSecret))).toBe("403 SignatureDoesNotMatch");
    }
    expect(await outcome(await send("sns", wrongSecret))).toBe("403 SignatureDoesNotMatch");
    expect(await outcome(await send("sns", stageCredentials))).toBe("200 served");
  });

  it("never verifies one stage's signature with the key cached for another stage's secret", async () => {
    const other = { accessKeyId: stageCredentials.accessKeyId, secretAccessKey: "other-secret" };
    const { server, url } = await serve({ service: "s3", strict: true, stageCredentials: other });
    try {
      const get = (credentials: typeof other, base: string) =>
        signedFetch(`${base}/bucket/key`, { method: "GET" }, { service: "s3", credentials });
      const first = strict.get("s3") as string;
      // Same access key, scope and day on both stages: only the secret tells their keys apart.
      expect(await outcome(await get(stageCredentials, first))).toBe("200 served");
      expect(await outcome(await get(stageCredentials, url))).toBe("403 SignatureDoesNotMatch");
      expect(await outcome(await get(other, url))).toBe("200 served");
      expect(await outcome(await get(other, first))).toBe("403 SignatureDoesNotMatch");
    } finally {
      server.close();
      await once(server, "close");
    }
  });

  it("bounds the signing keys it caches, and verifies a scope whose key was dropped", async () => {
    const signIn = (region: string, credentials = stageCredentials) =>
      signedFetch(
        `${loopback.get("sns")}/`,
        { method: "POST", body: form },
        { service: "sns", credentials, region },
      );
    expect(await outcome(await signIn("eu-west-1"))).toBe("200 served");
    for (let i = 0; i < 80; i++) {
      expect(await outcome(await signIn(`test-region-${i}`))).toBe("200 served");
    }
    expect(cachedSigningKeys()).toBe(64);
    // eu-west-1's key was the oldest, so it is gone: derived again, right and wrong alike.
    expect(await outcome(await signIn("eu-west-1"))).toBe("200 served");
    expect(await outcome(await signIn("eu-west-1", wrongSecret))).toBe("403 SignatureDoesNotMatch");
  });

  it("says what it signed when the stage's key does not match, as S3 does", async () => {
    const text = await (await send("s3", wrongSecret)).text();
    expect(text).toContain("<AWSAccessKeyId>STAGEKEY</AWSAccessKeyId>");
    expect(text).toContain("<CanonicalRequest>GET\n/bucket/key%2Bwith%20escapes\n");
    expect(text).toMatch(/<StringToSign>AWS4-HMAC-SHA256\n\d{8}T\d{6}Z\n/);
  });

  it("refuses a body changed after signing with the stage's key", async () => {
    const url = `${loopback.get("sns")}/`;
    const signed = await signedFetch(
      url,
      { method: "POST", body: form },
      { service: "sns", credentials: stageCredentials },
    );
    expect(await outcome(signed)).toBe("200 served");
    // Same signature, other body: replay the signed headers by hand.
    const { Sha256 } = await import("@smithy/core/checksum");
    const { SignatureV4 } = await import("@smithy/signature-v4");
    const target = new URL(url);
    const request = await new SignatureV4({
      service: "sns",
      region: "us-east-1",
      credentials: stageCredentials,
      sha256: Sha256,
    }).sign({
      method: "POST",
      protocol: "http:",
      hostname: target.hostname,
      path: "/",
      query: {},
      headers: { host: target.host },
      body: form,
    });
    const { host: _host, ...headers } = request.headers;
    const tampered = await fetch(url, {
      method: "POST",
      headers,
      body: form.replace("Message=hi", "Message=evil"),
    });
    expect(await outcome(tampered)).toBe("403 SignatureDoesNotMatch");
  });

  it("judges each request on its own date, scope and header list, whatever the one before carried", async () => {
    // The check keeps the last date, credential scope and SignedHeaders it parsed: a request that
    // differs from the one before in any of them must be judged on its own, in both directions.
    const url = `${loopback.get("sns")}/`;
    const post = (
      headers: Record<string, string>,
      options: { region?: string; service?: SignedService; signingDate?: Date } = {},
    ) =>
      signedFetch(
        url,
        {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
          body: form,
        },
        { service: options.service ?? "sns", credentials: stageCredentials, ...options },
      ).then(outcome);
    const served = "200 served";
    const stale = new Date(Date.now() - 16 * 60_000);
    const outcomes = [
      await post({}),
      await post({}, { signingDate: stale }),
      await post({}),
      await post({}, { region: "eu-west-1" }),
      await post({}, { service: "s3" }),
      await post({}, { region: "eu-west-1" }),
      await post({ "x-amz-meta-extra": "1" }),
      await post({}),
      await post({ "x-amz-meta-extra": "1" }),
    ];
    expect(outcomes).toEqual([
      served,
      "403 SignatureDoesNotMatch",
      served,
      served,
      "403 SignatureDoesNotMatch",
      served,
      served,
      served,
      served,
    ]);
  });

  it("refuses signatures older than the service allows: 15 minutes for S3 and SNS, 5 for API Gateway", async () => {
    const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000);
    expect(await outcome(await send("s3", foreign, { signingDate: ago(16) }))).toBe(
      "403 RequestTimeTooSkewed",
    );
    const sns = await send("sns", foreign, { signingDate: ago(16) });
    expect(sns.status).toBe(403);
    expect(await sns.text()).toMatch(
      /<Code>SignatureDoesNotMatch<\/Code><Message>Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 15 min.\)/,
    );
    const api = await send("execute-api", stageCredentials, { signingDate: ago(6) });
    expect(api.headers.get("x-amzn-errortype")).toBe("InvalidSignatureException");
    expect(((await api.json()) as { message: string }).message).toMatch(/- 5 min\.\)$/);
    expect(
      await outcome(
        await send("sns", stageCredentials, { signingDate: new Date(Date.now() + 16 * 60_000) }),
      ),
    ).toBe("403 SignatureDoesNotMatch");
    // Positive controls: inside each window the same requests pass.
    expect(await outcome(await send("s3", foreign, { signingDate: ago(14) }))).toBe("200 served");
    expect(await outcome(await send("sns", stageCredentials, { signingDate: ago(14) }))).toBe(
      "200 served",
    );
    expect(
      await outcome(await send("execute-api", stageCredentials, { signingDate: ago(4) })),
    ).toBe("200 served");
  });

  it("serves a presigned S3 URL until it expires", async () => {
    const object = `${loopback.get("s3")}/bucket/some%2Bkey`;
    const url = await presignedUrl(object, "GET", 60, {
      service: "s3",
      credentials: stageCredentials,
    });
    expect(url).toContain("X-Amz-Signature=");
    expect(await outcome(await fetch(url))).toBe("200 served");
    const forged = url.replace(
      /X-Amz-Signature=([0-9a-f])/,
      (_, c: string) => `X-Amz-Signature=${c === "0" ? "1" : "0"}`,
    );
    expect(await outcome(await fetch(forged))).toBe("403 SignatureDoesNotMatch");
    const old = await presignedUrl(object, "GET", 60, {
      service: "s3",
      credentials: stageCredentials,
      signingDate: new Date(Date.now() - 120_000),
    });
    const expired = await fetch(old);
    expect(expired.status).toBe(403);
    expect(await expired.text()).toContain(
      "<Code>AccessDenied</Code><Message>Request has expired</Message>",
    );
  });

  it("answers a malformed Authorization header with the service's 400", async () => {
    const response = await fetch(`${loopback.get("s3")}/bucket/key`, {
      headers: { authorization: "AWS4-HMAC-SHA256 Credential=x" },
    });
    expect(await outcome(response)).toBe("400 AuthorizationHeaderMalformed");
    const sns = await fetch(`${loopback.get("sns")}/`, {
      method: "POST",
      headers: { authorization: "Basic dXNlcjpwYXNz" },
      body: form,
    });
    expect(await outcome(sns)).toBe("400 IncompleteSignature");
  });

  it("accepts only the stage's key in strict mode, and verifies it", async () => {
    expect(await outcome(await send("s3", foreign, { strict: true }))).toBe(
      "403 InvalidAccessKeyId",
    );
    expect(await outcome(await send("sns", foreign, { strict: true }))).toBe(
      "403 InvalidClientTokenId",
    );
    expect(await outcome(await send("execute-api", foreign, { strict: true }))).toBe(
      "403 UnrecognizedClientException",
    );
    expect(await outcome(await send("sns", wrongSecret, { strict: true }))).toBe(
      "403 SignatureDoesNotMatch",
    );
    // Positive control: the stage's own credentials pass on every service.
    for (const service of services) {
      expect(await outcome(await send(service, stageCredentials, { strict: true })), service).toBe(
        "200 served",
      );
    }
  });
});

describe("isLoopbackHost", () => {
  it("knows which interfaces only this machine reaches", () => {
    for (const host of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"]) {
      expect(isLoopbackHost(host), host).toBe(true);
    }
    for (const host of ["0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "example.com"]) {
      expect(isLoopbackHost(host), host).toBe(false);
    }
  });
});

describe("generateStageCredentials", () => {
  it("makes a new key id and secret every time", () => {
    const [a, b] = [generateStageCredentials(), generateStageCredentials()];
    expect(a.accessKeyId).not.toBe(b.accessKeyId);
    expect(a.secretAccessKey).not.toBe(b.secretAccessKey);
    expect(a.secretAccessKey.length).toBeGreaterThanOrEqual(40);
  });
});
