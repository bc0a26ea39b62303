import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { type AddressInfo, createServer as createTcpServer } from "node:net";
import { Sha256 } from "@smithy/core/checksum";
import { SignatureV4 } from "@smithy/signature-v4";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { NetworkError, SignedAttempts } from "./signed-attempt.js";

/** One attempt against a stand-in service on 127.0.0.1 that answers by path. */

interface Seen {
  readonly path: string;
  readonly rawHeaders: readonly string[];
  readonly body: string;
}

const seen: Seen[] = [];
const held: ServerResponse[] = [];
let server: Server;
let endpoint: URL;

beforeAll(async () => {
  server = createServer((request: IncomingMessage, response: ServerResponse) => {
    if (request.url === "/unread") {
      // Never reads the body: one larger than the socket buffers stays unwritten.
      request.pause();
      held.push(response);
      return;
    }
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const path = request.url ?? "";
      seen.push({
        path,
        rawHeaders: request.rawHeaders,
        body: Buffer.concat(chunks).toString("utf8"),
      });
      if (path === "/hold") held.push(response);
      // Answered well after the send timeout the test gives: only the answer timeout may apply.
      else if (path === "/late") setTimeout(() => response.writeHead(200).end("late"), 450);
      else if (path === "/denied") {
        response.writeHead(403, { "x-amzn-errortype": "AccessDeniedException:http://internal" });
        response.end('{"message":"no"}');
      } else response.writeHead(200).end("unread");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  endpoint = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
afterEach(() => {
  seen.length = 0;
  for (const response of held.splice(0)) response.destroy();
});

function attemptsTo(url: URL): SignedAttempts {
  return new SignedAttempts(url, {
    maxSockets: 2,
    signer: new SignatureV4({
      service: "execute-api",
      region: "eu-west-1",
      credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
      sha256: Sha256,
    }),
    discardsBodyOf: (status) => status === 200,
  });
}

const unsigned = (path: string) => ({ path, headers: {} });

async function failureOf(outcome: Promise<unknown>): Promise<NetworkError> {
  const error = await outcome.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  if (!(error instanceof NetworkError)) throw new Error(`expected a NetworkError, got ${error}`);
  return error;
}

describe("SignedAttempts", () => {
  it("signs as the SDK does and sends the caller's headers between content-length and host", async () => {
    const attempts = attemptsTo(endpoint);
    const signed = await attempts.sign(
      "/@connections/a",
      { "x-extra": "1" },
      "h\u00e9llo",
      new Date(Date.UTC(2024, 1, 9, 18, 11, 43)),
    );
    await attempts.attempt(signed, "h\u00e9llo", 1_000, 1_000);
    attempts.close();

    expect(signed.headers["content-length"]).toBe("6");
    expect(signed.headers["x-amz-date"]).toBe("20240209T181143Z");
    expect(signed.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20240209\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date;x-extra, Signature=[0-9a-f]{64}$/,
    );
    const names = seen[0]?.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    expect(names?.slice(0, 4)).toEqual(["content-type", "content-length", "x-extra", "host"]);
    expect(seen[0]?.body).toBe("h\u00e9llo");
  });

  it("drains the body of a status it discards and reads the error type and body of the others", async () => {
    const attempts = attemptsTo(endpoint);
    const ok = await attempts.attempt(unsigned("/ok"), Buffer.from("x"), 1_000, 1_000);
    const denied = await attempts.attempt(unsigned("/denied"), "x", 1_000, 1_000);
    attempts.close();

    expect(ok).toEqual({ status: 200, errorTypeHeader: undefined, body: "" });
    expect(denied).toEqual({
      status: 403,
      errorTypeHeader: "AccessDeniedException:http://internal",
      body: '{"message":"no"}',
    });
  });

  it("awaits a late answer once the request is written: the send timeout no longer applies", async () => {
    const attempts = attemptsTo(endpoint);
    // The send timeout leaves room to connect and write on a loaded machine (1 ms did not).
    const answer = await attempts.attempt(unsigned("/late"), "x", 150, 10_000);
    attempts.close();

    expect(answer.status).toBe(200);
  });

  it("ends a written request left unanswered with the answer timeout", async () => {
    const attempts = attemptsTo(endpoint);
    const error = await failureOf(attempts.attempt(unsigned("/hold"), "x", 10_000, 30));
    attempts.close();

    expect(error.timeout).toBe("answer");
    expect(error.message).toBe("no answer within 30 ms of the request");
    expect(seen).toHaveLength(1);
  });

  it("ends a request that cannot be written with the send timeout", async () => {
    const attempts = attemptsTo(endpoint);
    const big = "x".repeat(48 * 1024 * 1024);
    const error = await failureOf(attempts.attempt(unsigned("/unread"), big, 50, 600_000));
    attempts.close();

    expect(error.timeout).toBe("send");
    expect(error.message).toBe("the request could not be sent within 50 ms");
  });

  it("reports a refused connection as a network error that no timeout ended", async () => {
    const closed = createTcpServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const attempts = attemptsTo(new URL(`http://127.0.0.1:${port}`));
    const error = await failureOf(attempts.attempt(unsigned("/ok"), "x", 1_000, 1_000));
    attempts.close();

    expect(error.timeout).toBeUndefined();
    expect(error.message).toMatch(/ECONNREFUSED/);
  });
});
