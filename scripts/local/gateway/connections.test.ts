import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  GoneException,
  PayloadTooLargeException,
  PostToConnectionCommand,
} from "@aws-sdk/client-apigatewaymanagementapi";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { LIMITS } from "../../../functions/contract.js";
import { FastPoster } from "../../../functions/lib/fast-poster.js";
import { FaultInjector } from "../faults.js";
import { LOOPBACK_CREDENTIALS } from "../http/request-signature.js";
import { signedFetch } from "../http/signed-fetch.js";
import { connectionsListener, type ManagedConnection } from "./connections.js";

/** A connection id with every character the SDK must escape. */
const id = "ab+c/d=EF9xYz0=";
let server: Server;
let endpoint: string;
let client: ApiGatewayManagementApiClient;
let posted: Buffer[];
let disconnected: number;
let dropped = 0;
let bufferFull: boolean;

const connection: ManagedConnection = {
  connectedAt: Date.parse("2026-11-23T10:00:00.000Z"),
  lastActiveAt: Date.parse("2026-11-23T10:05:00.000Z"),
  sourceIp: "127.0.0.1",
  userAgent: "test-agent",
  post: (data) => {
    if (bufferFull) return false;
    posted.push(data);
    return true;
  },
  disconnect: () => {
    disconnected += 1;
  },
  drop: () => {
    dropped += 1;
  },
};

beforeAll(async () => {
  server = createServer(
    connectionsListener(
      { connection: (connectionId) => (connectionId === id ? connection : undefined) },
      "local",
    ),
  );
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  endpoint = `http://127.0.0.1:${port}/local`;
  client = new ApiGatewayManagementApiClient({
    endpoint,
    region: "us-east-1",
    // The stage's own key: every request below is verified, not merely accepted.
    credentials: LOOPBACK_CREDENTIALS,
    // The throttling test wants the 429 itself, not the SDK's retries of it.
    maxAttempts: 1,
  });
});

beforeEach(() => {
  posted = [];
  disconnected = 0;
  bufferFull = false;
});

afterAll(async () => {
  client.destroy();
  server.close();
  await once(server, "close");
});

describe("Management API with the real SDK client", () => {
  it("posts the raw bytes to the connection named by the URL-decoded id", async () => {
    await client.send(new PostToConnectionCommand({ ConnectionId: id, Data: '{"message":"hi"}' }));
    expect(posted.map((data) => data.toString())).toEqual(['{"message":"hi"}']);
  });

  it("describes a connection with AWS's fields", async () => {
    const described = await client.send(new GetConnectionCommand({ ConnectionId: id }));
    expect(described.ConnectedAt?.toISOString()).toBe("2026-11-23T10:00:00.000Z");
    expect(described.LastActiveAt?.toISOString()).toBe("2026-11-23T10:05:00.000Z");
    expect(described.Identity).toEqual({ SourceIp: "127.0.0.1", UserAgent: "test-agent" });
  });

  it("disconnects a connection on DeleteConnection", async () => {
    await client.send(new DeleteConnectionCommand({ ConnectionId: id }));
    expect(disconnected).toBe(1);
  });

  it("surfaces an unknown id as GoneException with status 410 for every method", async () => {
    for (const command of [
      new PostToConnectionCommand({ ConnectionId: "gone+id=", Data: "x" }),
      new GetConnectionCommand({ ConnectionId: "gone+id=" }),
      new DeleteConnectionCommand({ ConnectionId: "gone+id=" }),
    ]) {
      const error = await client.send(command as PostToConnectionCommand).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GoneException);
      expect((error as GoneException).$metadata.httpStatusCode).toBe(410);
    }
  });

  it("refuses a message over the WebSocket payload limit", async () => {
    const error = await client
      .send(
        new PostToConnectionCommand({
          ConnectionId: id,
          Data: Buffer.alloc(LIMITS.messageBytes + 1),
        }),
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PayloadTooLargeException);
    expect(posted).toEqual([]);
  });

  it("throttles with LimitExceededException while the client's buffer is full", async () => {
    bufferFull = true;
    const error = await client
      .send(new PostToConnectionCommand({ ConnectionId: id, Data: "x" }))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      name: "LimitExceededException",
      $metadata: { httpStatusCode: 429 },
    });
  });

  it("injects the faults it is given: 410 drops the connection, 429 and 500 leave it", async () => {
    const draws = [0, 0.99, 0, 0.99, 0.99, 0];
    const faults = new FaultInjector(
      { gone: 0.5, throttle: 0.5, error: 0.5 },
      () => draws.shift() ?? 1,
    );
    const faulty = createServer(
      connectionsListener(
        { connection: (connectionId) => (connectionId === id ? connection : undefined) },
        "local",
        faults,
      ),
    );
    faulty.listen(0, "127.0.0.1");
    await once(faulty, "listening");
    const { port } = faulty.address() as AddressInfo;
    const direct = new ApiGatewayManagementApiClient({
      endpoint: `http://127.0.0.1:${port}/local`,
      region: "us-east-1",
      credentials: { accessKeyId: "any", secretAccessKey: "thing" },
      maxAttempts: 1,
    });
    const post = () =>
      direct.send(new PostToConnectionCommand({ ConnectionId: id, Data: "x" })).then(
        () => "ok",
        (error: { name: string }) => error.name,
      );
    const droppedBefore = dropped;
    expect([await post(), await post(), await post(), await post()]).toEqual([
      "GoneException",
      "LimitExceededException",
      "InternalServerErrorException",
      "ok",
    ]);
    expect(dropped - droppedBefore).toBe(1);
    direct.destroy();
    faulty.close();
  });

  it("refuses an unsigned post with API Gateway's 403 and posts nothing", async () => {
    const url = `${endpoint}/@connections/${encodeURIComponent(id)}`;
    const unsigned = await fetch(url, { method: "POST", body: "unsigned" });
    expect(unsigned.status).toBe(403);
    expect(unsigned.headers.get("x-amzn-errortype")).toBe("MissingAuthenticationTokenException");
    expect(await unsigned.json()).toEqual({ message: "Missing Authentication Token" });
    expect(posted).toEqual([]);
    // Positive control: the same request, signed, is posted.
    const signed = await signedFetch(
      url,
      { method: "POST", body: "signed" },
      { service: "execute-api", credentials: LOOPBACK_CREDENTIALS },
    );
    expect(signed.status).toBe(200);
    expect(posted.map(String)).toEqual(["signed"]);
  });

  it("refuses the stage's key with a wrong secret: InvalidSignatureException, nothing posted", async () => {
    const wrong = new ApiGatewayManagementApiClient({
      endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: LOOPBACK_CREDENTIALS.accessKeyId, secretAccessKey: "wrong" },
      maxAttempts: 1,
    });
    const error = await wrong
      .send(new PostToConnectionCommand({ ConnectionId: id, Data: "x" }))
      .catch((e: unknown) => e);
    wrong.destroy();
    expect(error).toMatchObject({
      name: "InvalidSignatureException",
      $metadata: { httpStatusCode: 403 },
    });
    expect(posted).toEqual([]);
  });

  it("verifies the functions' fast poster, which signs with @smithy/signature-v4 itself", async () => {
    const poster = new FastPoster(endpoint, {
      credentials: async () => LOOPBACK_CREDENTIALS,
      region: "us-east-1",
    });
    expect(await poster.post(id, "fast")).toEqual({ status: "delivered" });
    expect(posted.map(String)).toEqual(["fast"]);
  });
});
