import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { LIMITS } from "../contract.js";
import { createFastPoster } from "./fast-poster.js";
import { createManagementClient, isGone, Poster } from "./poster.js";

/**
 * A tiny @connections endpoint speaking the real wire, so these tests exercise the real SDK:
 * serialization, error parsing and its standard retry strategy.
 */
interface Received {
  readonly method: string;
  readonly url: string;
  readonly contentType: string | undefined;
  readonly body: string;
}

type Reply = (res: ServerResponse) => void;

const received: Received[] = [];
let replies: Reply[] = [];
let server: Server;
let endpoint: string;

const ok: Reply = (res) => res.writeHead(200).end();
const typed =
  (status: number, type: string | undefined, body = ""): Reply =>
  (res) => {
    res.writeHead(status, {
      "content-type": "application/json",
      ...(type === undefined ? {} : { "x-amzn-errortype": type }),
    });
    res.end(body);
  };

beforeAll(async () => {
  vi.stubEnv("AWS_REGION", "us-east-1");
  vi.stubEnv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE");
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      received.push({
        method: req.method ?? "",
        url: req.url ?? "",
        contentType: req.headers["content-type"],
        body: Buffer.concat(chunks).toString("utf8"),
      });
      (replies.shift() ?? ok)(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dev`;
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  received.length = 0;
  replies = [];
});

/** Both posters honour the same wire contract: the SDK client's, and the fast one built on its layers. */
const POSTERS: readonly [string, (endpoint: string) => Poster][] = [
  ["SDK poster", (at) => new Poster(createManagementClient(at))],
  ["fast poster", (at) => createFastPoster(at)],
];

describe.each(POSTERS)("%s over the wire", (_name, create) => {
  const poster = (): Poster => create(endpoint);

  it("POSTs the frame's raw bytes to the stage's @connections path with the id URL-encoded", async () => {
    const outcome = await poster().post("ab+c/d=", '{"message":"hé"}');

    expect(outcome).toEqual({ status: "delivered" });
    expect(received).toEqual([
      {
        method: "POST",
        url: "/dev/@connections/ab%2Bc%2Fd%3D",
        contentType: "application/octet-stream",
        body: '{"message":"hé"}',
      },
    ]);
  });

  it("reports gone for 410 with x-amzn-errortype GoneException, without retrying", async () => {
    replies = [typed(410, "GoneException", "{}")];

    expect(await poster().post("stale=", "x")).toEqual({ status: "gone" });
    expect(received).toHaveLength(1);
  });

  it("reports gone for a bare 410 the SDK cannot name", async () => {
    replies = [(res) => res.writeHead(410).end()];

    expect(await poster().post("stale=", "x")).toEqual({ status: "gone" });
  });

  it("retries a throttled post (429 LimitExceededException) and delivers on a later attempt", async () => {
    replies = [typed(429, "LimitExceededException", '{"message":"Rate exceeded"}'), ok];

    expect(await poster().post("busy=", "x")).toEqual({ status: "delivered" });
    expect(received).toHaveLength(2);
    expect(received[1]?.body).toBe("x");
  });

  it(`gives up after ${LIMITS.deliveryMaxAttempts} attempts when throttling persists`, async () => {
    const throttled = typed(429, "LimitExceededException", '{"message":"Rate exceeded"}');
    replies = Array.from({ length: LIMITS.deliveryMaxAttempts + 2 }, () => throttled);

    const outcome = await poster().post("busy=", "x");

    expect(outcome).toEqual({
      status: "failed",
      error: expect.stringMatching(/^LimitExceededException \(HTTP 429\)/),
      statusCode: 429,
    });
    expect(received).toHaveLength(LIMITS.deliveryMaxAttempts);
  });

  it("does not retry a ForbiddenException, and names it", async () => {
    replies = [typed(403, "ForbiddenException", '{"message":"Forbidden"}')];

    const outcome = await poster().post("denied=", "x");

    expect(outcome).toEqual({
      status: "failed",
      error: expect.stringMatching(/^ForbiddenException \(HTTP 403\)/),
      statusCode: 403,
    });
    expect(received).toHaveLength(1);
  });
});

describe("isGone", () => {
  it("recognises the SDK's error by name or by HTTP status", () => {
    expect(isGone({ name: "GoneException", $metadata: {} })).toBe(true);
    expect(isGone({ name: "Unknown", $metadata: { httpStatusCode: 410 } })).toBe(true);
  });

  it("ignores the v2-style statusCode field and other errors", () => {
    expect(isGone({ statusCode: 410 })).toBe(false);
    expect(isGone({ name: "LimitExceededException", $metadata: { httpStatusCode: 429 } })).toBe(
      false,
    );
    expect(isGone(new Error("boom"))).toBe(false);
    expect(isGone(undefined)).toBe(false);
  });
});
