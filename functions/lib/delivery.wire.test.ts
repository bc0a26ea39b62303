import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { mockS3 } from "../fixtures/aws.js";
import { FIXTURE_BUCKET, FIXTURE_PREFIX } from "../fixtures/events.js";
import { deliver } from "./delivery.js";
import { createFastPoster } from "./fast-poster.js";
import { createManagementClient, Poster } from "./poster.js";
import { Registry } from "./registry.js";
import { SdkObjectStore } from "./sdk-object-store.js";

/**
 * Delivery through the real Management API client against a server speaking the @connections
 * wire: Gone (410 + x-amzn-errortype) and throttling (429) as API Gateway sends them. The registry
 * is the in-memory bucket.
 */
const bucket = mockS3();
const open = new Set<string>();
const throttledOnce = new Set<string>();
const posts: string[] = [];
let server: Server;
let endpoint: string;

beforeAll(async () => {
  vi.stubEnv("AWS_REGION", "us-east-1");
  vi.stubEnv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE");
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
  server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const id = decodeURIComponent((req.url ?? "").split("/@connections/")[1] ?? "");
      posts.push(id);
      if (!open.has(id)) {
        res.writeHead(410, { "x-amzn-errortype": "GoneException" }).end("{}");
      } else if (throttledOnce.delete(id)) {
        res.writeHead(429, { "x-amzn-errortype": "LimitExceededException" }).end("{}");
      } else {
        res.writeHead(200).end();
      }
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
  bucket.reset();
  open.clear();
  throttledOnce.clear();
  posts.length = 0;
});

const POSTERS: readonly [string, (endpoint: string) => Poster][] = [
  ["SDK poster", (at) => new Poster(createManagementClient(at))],
  ["fast poster", (at) => createFastPoster(at)],
];

describe.each(POSTERS)("deliver over the @connections wire with the %s", (_name, create) => {
  it("removes exactly the connection the gateway answered Gone for", async () => {
    bucket.register("sender+/=", "peer/+=", "stale+/=x");
    open.add("sender+/=").add("peer/+=");

    const result = await deliver(
      '{"message":"hi"}',
      { kind: "everyone" },
      {
        registry: new Registry(
          new SdkObjectStore(new S3Client({}), FIXTURE_BUCKET),
          FIXTURE_PREFIX,
        ),
        poster: create(endpoint),
      },
      { deadline: Number.MAX_SAFE_INTEGER },
    );

    expect(result).toEqual({ delivered: 2, gone: 1, failed: 0, undelivered: [] });
    expect(bucket.connectionIds()).toEqual(["peer/+=", "sender+/="]);
  });

  it("delivers to a connection whose first post was throttled", async () => {
    bucket.register("busy=", "calm=");
    open.add("busy=").add("calm=");
    throttledOnce.add("busy=");

    const result = await deliver(
      "x",
      { kind: "everyone" },
      {
        registry: new Registry(
          new SdkObjectStore(new S3Client({}), FIXTURE_BUCKET),
          FIXTURE_PREFIX,
        ),
        poster: create(endpoint),
      },
      { deadline: Number.MAX_SAFE_INTEGER },
    );

    expect(result).toEqual({ delivered: 2, gone: 0, failed: 0, undelivered: [] });
    expect(posts.filter((id) => id === "busy=")).toHaveLength(2);
  });
});
