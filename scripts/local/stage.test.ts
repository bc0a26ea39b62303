import { execFile } from "node:child_process";
import { EventEmitter, once } from "node:events";
import { promisify } from "node:util";
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  GoneException,
  PostToConnectionCommand,
} from "@aws-sdk/client-apigatewaymanagementapi";
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { STATE_DIR_ENV } from "../../functions/contract.js";
import type { InvocationEntry, LocalLogEntry } from "./local-log.js";
import { type RunningLocalStage, SERVER_KEEP_ALIVE_MS } from "./stage.js";
import { type StageFixture, startStageFixture } from "./stage-fixture.js";

/**
 * End to end: the real bundles behind the local stage, driven by `ws` clients and the real SDK
 * clients, as a user's code and the smoke test drive it.
 */

const credentials = { accessKeyId: "any", secretAccessKey: "thing" };
let fixture: StageFixture;
let stage: RunningLocalStage;
let s3: S3Client;
let sns: SNSClient;
let management: ApiGatewayManagementApiClient;
const clients: Client[] = [];
/** Every entry of the stage's log, as it is written. */
const log = new EventEmitter<{ entry: [LocalLogEntry] }>();

/** A ws client that keeps every frame it receives. */
interface Client {
  readonly socket: WebSocket;
  readonly received: string[];
  connectionId: string;
}

beforeAll(async () => {
  fixture = await startStageFixture("local-stage-", {
    asyncRetryDelaysMs: [50, 50],
    onLog: (entry) => log.emit("entry", entry),
  });
  stage = fixture.stage;
  const { outputs } = stage;
  s3 = new S3Client({ endpoint: outputs.endpoints?.s3, region: outputs.region, credentials });
  sns = new SNSClient({ endpoint: outputs.endpoints?.sns, region: outputs.region, credentials });
  management = new ApiGatewayManagementApiClient({
    endpoint: outputs.managementEndpoint,
    region: outputs.region,
    credentials,
    maxAttempts: 1,
  });
}, 120_000);

afterAll(async () => {
  for (const client of clients) client.socket.terminate();
  await fixture?.remove();
  for (const client of [s3, sns, management]) client?.destroy();
});

/**
 * The next `count` invocations matching, from now on: call it before what causes them. The
 * test's own timeout bounds the wait.
 */
function invocations(
  matches: (entry: InvocationEntry) => boolean,
  count = 1,
): Promise<InvocationEntry[]> {
  return new Promise((resolve) => {
    const found: InvocationEntry[] = [];
    const listener = (entry: LocalLogEntry) => {
      if (entry.type !== "invocation" || !matches(entry)) return;
      found.push(entry);
      if (found.length < count) return;
      log.off("entry", listener);
      resolve(found);
    };
    log.on("entry", listener);
  });
}

const finished = (fn: string, connectionId: string) => (entry: InvocationEntry) =>
  entry.function === fn && entry.connectionId === connectionId;

/** The connection ids in the registry, read back from its keys (prefix + base64url(id)). */
async function registryIds(): Promise<string[]> {
  const { outputs } = stage;
  const listed = await s3.send(
    new ListObjectsV2Command({
      Bucket: outputs.connectionsBucket,
      Prefix: outputs.connectionsPrefix,
    }),
  );
  return (listed.Contents ?? []).map((object) =>
    Buffer.from((object.Key ?? "").slice(outputs.connectionsPrefix.length), "base64url").toString(
      "utf8",
    ),
  );
}

async function registryEntry(connectionId: string): Promise<Record<string, unknown>> {
  const { outputs } = stage;
  const got = await s3.send(
    new GetObjectCommand({
      Bucket: outputs.connectionsBucket,
      Key: outputs.connectionsPrefix + Buffer.from(connectionId).toString("base64url"),
    }),
  );
  return JSON.parse((await got.Body?.transformToString()) ?? "") as Record<string, unknown>;
}

/** Connects a client and learns its connection id from the registry object $connect wrote. */
async function connect(): Promise<Client> {
  const before = new Set(await registryIds());
  const socket = new WebSocket(stage.outputs.websocketUrl);
  const client: Client = { socket, received: [], connectionId: "" };
  socket.on("message", (data) => client.received.push(data.toString()));
  await new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  });
  const ids = await registryIds();
  client.connectionId = ids.find((id) => !before.has(id)) ?? "";
  expect(client.connectionId).toMatch(/^[A-Za-z0-9+/]{15}=$/);
  clients.push(client);
  return client;
}

/** The client's count-th frame, once it has arrived. */
async function lastFrame(client: Client, count: number): Promise<string> {
  // The client's own listener came first, so each 'message' here has already been recorded.
  while (client.received.length < count) await once(client.socket, "message");
  return client.received[count - 1] as string;
}

describe("local stage end to end", () => {
  let a: Client;
  let b: Client;
  let c: Client;

  it("registers every connected client in the S3 registry", async () => {
    a = await connect();
    b = await connect();
    c = await connect();
    expect(new Set(await registryIds())).toEqual(
      new Set([a.connectionId, b.connectionId, c.connectionId]),
    );
    for (const client of [a, b, c]) {
      expect(await registryEntry(client.connectionId)).toMatchObject({
        connectionId: client.connectionId,
        sourceIp: "127.0.0.1",
      });
    }
  });

  it("broadcasts a message to every client", async () => {
    a.socket.send(JSON.stringify({ action: "broadcast", message: { text: "hi all" } }));
    for (const client of [a, b, c]) {
      expect(JSON.parse(await lastFrame(client, 1))).toEqual({ message: { text: "hi all" } });
    }
  });

  it("delivers sendmessage data to every client", async () => {
    b.socket.send(JSON.stringify({ action: "sendmessage", data: "plain data" }));
    for (const client of [a, b, c]) expect(await lastFrame(client, 2)).toBe("plain data");
  });

  it("fans out a message published to the stage's topic", async () => {
    await sns.send(
      new PublishCommand({ TopicArn: stage.outputs.topicArn, Message: '{"hello":"world"}' }),
    );
    for (const client of [a, b, c]) expect(await lastFrame(client, 3)).toContain("world");
  });

  it("answers bad input with an error frame to the sender only", async () => {
    c.socket.send("this is not json");
    const frame = JSON.parse(await lastFrame(c, 4)) as { error: { code: string; message: string } };
    expect(frame.error.code).toBe("not_json");
    expect(frame.error.message).toMatch(/not JSON/);
    // Positive control: a pong comes back after every frame the gateway sent `a` before it, so
    // a leaked error frame would be in `a.received` by then.
    const pong = new Promise((resolve) => a.socket.once("pong", resolve));
    a.socket.ping();
    await pong;
    expect(a.received).toHaveLength(3);
  });

  it("gets, posts to and deletes a connection through the Management API", async () => {
    const described = await management.send(
      new GetConnectionCommand({ ConnectionId: a.connectionId }),
    );
    expect(described.Identity?.SourceIp).toBe("127.0.0.1");
    expect(described.ConnectedAt).toBeInstanceOf(Date);
    await management.send(
      new PostToConnectionCommand({ ConnectionId: a.connectionId, Data: "direct" }),
    );
    expect(await lastFrame(a, 4)).toBe("direct");
    const closed = new Promise<number>((resolve) => c.socket.once("close", resolve));
    const disconnected = invocations(finished("disconnect", c.connectionId));
    expect(await registryIds()).toContain(c.connectionId);
    await management.send(new DeleteConnectionCommand({ ConnectionId: c.connectionId }));
    await closed;
    await disconnected;
    expect(await registryIds()).not.toContain(c.connectionId);
    const gone = await management
      .send(new PostToConnectionCommand({ ConnectionId: c.connectionId, Data: "x" }))
      .catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(GoneException);
  });

  it("removes a stale registry entry when delivery finds it gone", async () => {
    const { outputs } = stage;
    const stale = "StaleId0+/Abcd=";
    await s3.send(
      new PutObjectCommand({
        Bucket: outputs.connectionsBucket,
        Key: outputs.connectionsPrefix + Buffer.from(stale).toString("base64url"),
        Body: JSON.stringify({ connectionId: stale, connectedAt: new Date().toISOString() }),
      }),
    );
    expect(await registryIds()).toContain(stale);
    const broadcast = invocations(finished("message", a.connectionId));
    a.socket.send(JSON.stringify({ action: "broadcast", message: "after the stale one" }));
    expect(JSON.parse(await lastFrame(b, 4))).toEqual({ message: "after the stale one" });
    // The fan-out removes the ids it found gone before its invocation ends.
    await broadcast;
    expect(await registryIds()).not.toContain(stale);
  });

  it("shrinks the registry when a client closes", async () => {
    expect(await registryIds()).toContain(b.connectionId);
    const disconnected = invocations(finished("disconnect", b.connectionId));
    b.socket.close();
    await disconnected;
    expect(await registryIds()).toEqual([a.connectionId]);
  });

  it("keeps idle keep-alive connections open longer than the functions' SDK clients reuse them", async () => {
    const { outputs } = stage;
    const urls = [
      `${outputs.managementEndpoint}/@connections/unknown`,
      `${outputs.endpoints?.s3}/${outputs.connectionsBucket}?list-type=2`,
      `${outputs.endpoints?.sns}/`,
    ];
    for (const url of urls) {
      const response = await fetch(url, { headers: { connection: "keep-alive" } });
      await response.arrayBuffer();
      // Node's 5 s default raced the SDK's keep-alive agents under load: a post reused a socket
      // the server was closing, failed with ECONNRESET and, after the retries, was lost.
      expect(response.headers.get("keep-alive"), url).toBe(
        `timeout=${SERVER_KEEP_ALIVE_MS / 1000}`,
      );
    }
    expect(SERVER_KEEP_ALIVE_MS).toBeGreaterThanOrEqual(60_000);
  });

  it("prints the running stage's outputs with `npm run outputs -- local --json`", async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", "scripts/outputs.ts", "local", "--json"],
      { env: { ...process.env, [STATE_DIR_ENV]: fixture.stateDir } },
    );
    const printed = JSON.parse(stdout) as Record<string, unknown>;
    expect(printed).toEqual(stage.outputs);
    expect(Object.keys(printed).sort()).toEqual(
      [
        "stage",
        "region",
        "websocketUrl",
        "managementEndpoint",
        "topicArn",
        "connectionsBucket",
        "connectionsPrefix",
        "endpoints",
      ].sort(),
    );
    expect(printed.endpoints).toEqual({
      s3: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      sns: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      lambda: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
    });
  });

  it("refuses the handshake when $connect cannot register the connection, and retries the subscriber", async () => {
    const { outputs } = stage;
    const keys =
      (await s3.send(new ListObjectsV2Command({ Bucket: outputs.connectionsBucket }))).Contents ??
      [];
    if (keys.length > 0) {
      await s3.send(
        new DeleteObjectsCommand({
          Bucket: outputs.connectionsBucket,
          Delete: { Objects: keys.map((k) => ({ Key: k.Key })) },
        }),
      );
    }
    await s3.send(new DeleteBucketCommand({ Bucket: outputs.connectionsBucket }));
    try {
      const socket = new WebSocket(outputs.websocketUrl);
      const status = await new Promise<number>((resolve, reject) => {
        socket.once("unexpected-response", (request, response) => {
          request.destroy();
          resolve(response.statusCode ?? 0);
        });
        socket.once("open", () => reject(new Error("the handshake was accepted")));
      });
      expect(status).toBeGreaterThanOrEqual(500);

      // The subscriber cannot list the registry either: it throws, and Lambda retries it twice.
      const subscriberRuns = invocations((entry) => entry.function === "subscriber", 3);
      await sns.send(new PublishCommand({ TopicArn: outputs.topicArn, Message: "unlisted" }));
      const runs = await subscriberRuns;
      expect(runs.map((entry) => [entry.attempt, entry.result])).toEqual([
        [1, "error"],
        [2, "error"],
        [3, "error"],
      ]);
    } finally {
      await s3.send(new CreateBucketCommand({ Bucket: outputs.connectionsBucket }));
    }
  });
});
