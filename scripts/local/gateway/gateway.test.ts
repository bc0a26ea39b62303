import { EventEmitter, once } from "node:events";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect as connectSocket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { CLOSE_CODES, FUNCTION_NAMES, LIMITS, STATE_DIR_ENV } from "../../../functions/contract.js";
import type { ConnectEvent, DisconnectEvent, MessageEvent } from "../../../functions/lib/events.js";
import { resolveStageOutputs } from "../../../smoke/outputs.js";
import { type RunningLocalStage, startLocalStage } from "../stage.js";

/**
 * The gateway's API Gateway behaviour, driven through stand-in bundles that record every event
 * they get. They run in execution environments of their own (worker threads), so each prints the
 * event as a log line, which reaches the stage's log before the invocation's result does.
 */

interface Recorded {
  fn: string;
  /** Whichever event the function got: read the fields of the kind the test expects. */
  event: ConnectEvent &
    Omit<MessageEvent, "requestContext"> & {
      requestContext: DisconnectEvent["requestContext"];
      Records?: unknown[];
    };
}
declare global {
  var gatewayTestEvents: Recorded[];
}
/** Recorded events that tell waiting tests when one more arrives. */
class RecordedEvents extends Array<Recorded> {
  static readonly pushed = new EventEmitter();
  override push(...items: Recorded[]): number {
    const length = super.push(...items);
    RecordedEvents.pushed.emit("push");
    return length;
  }
}
globalThis.gatewayTestEvents = new RecordedEvents();

const standIn = (fn: string) => `
export const handler = async (event) => {
  console.log(JSON.stringify({ gatewayTestEvent: { fn: ${JSON.stringify(fn)}, event } }));
  const query = event.queryStringParameters ?? {};
  if (query.sleep) await new Promise((resolve) => setTimeout(resolve, Number(query.sleep)));
  if (query.reject) return { statusCode: Number(query.reject) };
  if (query.fail || event.body === "fail") throw new Error("stand-in failure");
  return { statusCode: 200 };
};
`;

let dir: string;
let stage: RunningLocalStage | undefined;
const sockets: WebSocket[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "gateway-"));
  for (const fn of FUNCTION_NAMES) {
    await mkdir(join(dir, "dist", fn), { recursive: true });
    await writeFile(join(dir, "dist", fn, "index.mjs"), standIn(fn));
  }
});

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.terminate();
  await stage?.stop();
  stage = undefined;
  globalThis.gatewayTestEvents.length = 0;
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function start(
  options: { idleTimeoutMs?: number; maxConnectionMs?: number; topicSubscriber?: boolean } = {},
) {
  stage = await startLocalStage({
    port: 0,
    stateDir: join(dir, "state"),
    distDir: join(dir, "dist"),
    onLog: (entry) => {
      if (entry.type !== "log") return;
      const recorded = (JSON.parse(entry.line) as { gatewayTestEvent?: Recorded }).gatewayTestEvent;
      if (recorded !== undefined) globalThis.gatewayTestEvents.push(recorded);
    },
    ...options,
  });
  return stage;
}

function events(fn: string): Recorded["event"][] {
  return globalThis.gatewayTestEvents
    .filter((recorded) => recorded.fn === fn)
    .map((recorded) => recorded.event);
}

/** Resolves once `probe` holds for the recorded events, checking it as each one arrives. */
async function until<T>(probe: () => T | false | undefined, what: string): Promise<T> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`Timed out waiting for ${what}`);
    const pushed = once(RecordedEvents.pushed, "push", { signal: AbortSignal.timeout(left) });
    await pushed.catch(() => undefined);
  }
}

async function connect(path = ""): Promise<WebSocket> {
  const socket = new WebSocket(`${stage?.outputs.websocketUrl}${path}`, {
    headers: { "User-Agent": "gateway-test" },
  });
  sockets.push(socket);
  await new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  });
  return socket;
}

function refusal(path: string): Promise<number> {
  const socket = new WebSocket(`${stage?.outputs.websocketUrl}${path}`);
  return new Promise((resolve, reject) => {
    socket.once("unexpected-response", (request, response) => {
      request.destroy();
      resolve(response.statusCode ?? 0);
    });
    socket.once("open", () => reject(new Error("the handshake was accepted")));
  });
}

function closed(socket: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) =>
    socket.once("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );
}

/** Sends a hand-made upgrade request; resolves with the status and the socket, left open. */
async function rawUpgrade(
  lines: readonly string[],
): Promise<{ status: number; socket: import("node:net").Socket }> {
  const url = new URL(stage?.outputs.websocketUrl ?? "");
  const socket = connectSocket(Number(url.port), url.hostname);
  await once(socket, "connect");
  socket.write(`${[...lines, `Host: ${url.host}`].join("\r\n")}\r\n\r\n`);
  // Not `for await`: leaving that loop would destroy the socket.
  const head = await new Promise<string>((resolve, reject) => {
    let received = "";
    const onData = (chunk: Buffer) => {
      received += chunk.toString("latin1");
      if (!received.includes("\r\n\r\n")) return;
      socket.off("data", onData);
      resolve(received);
    };
    socket.on("data", onData);
    socket.once("error", reject);
  });
  return { status: Number(head.split(" ")[1]), socket };
}

const VALID_UPGRADE = [
  "GET /local HTTP/1.1",
  "Connection: Upgrade",
  "Upgrade: websocket",
  "Sec-WebSocket-Version: 13",
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
];

/** A client frame (masked, as RFC 6455 requires), FIN set. */
function clientFrame(opcode: number, payload: Buffer): Buffer {
  const mask = Buffer.from([1, 2, 3, 4]);
  const length = payload.length;
  const header =
    length < 126
      ? Buffer.from([0x80 | opcode, 0x80 | length])
      : Buffer.from([0x80 | opcode, 0x80 | 126, length >> 8, length & 0xff]);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ (mask[i % 4] as number)));
  return Buffer.concat([header, mask, masked]);
}

describe("local gateway", () => {
  it("runs $connect with an API Gateway CONNECT event before accepting the socket", async () => {
    await start();
    await connect("?room=a&room=b");
    const [event] = events("connect");
    const context = event?.requestContext;
    expect(context).toMatchObject({
      routeKey: "$connect",
      eventType: "CONNECT",
      stage: "local",
      messageDirection: "IN",
      identity: { sourceIp: "127.0.0.1", userAgent: "gateway-test" },
    });
    expect(context?.connectionId).toMatch(/^[A-Za-z0-9+/]{15}=$/);
    expect(context?.domainName).toBe(new URL(stage?.outputs.websocketUrl ?? "").host);
    expect(event?.headers?.["User-Agent"]).toBe("gateway-test");
    expect(event?.queryStringParameters).toEqual({ room: "b" });
    expect(event?.multiValueQueryStringParameters).toEqual({ room: ["a", "b"] });
  });

  it("refuses the handshake with the status $connect returns, and 500 when it throws", async () => {
    await start();
    expect(await refusal("?reject=401")).toBe(401);
    expect(await refusal("?fail=1")).toBe(500);
    expect(await refusal("/../other")).toBe(403);
  });

  it("survives a client resetting the connection while $connect runs, and reports its disconnect", async () => {
    const { outputs } = await start();
    const url = new URL(outputs.websocketUrl);
    const raw = connectSocket(Number(url.port), url.hostname);
    await once(raw, "connect");
    raw.write(
      `GET ${url.pathname}?sleep=200 HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    await until(() => events("connect").length === 1, "$connect to start");
    raw.resetAndDestroy();
    const [disconnect] = await until(
      () => events("disconnect").length > 0 && events("disconnect"),
      "$disconnect",
    );
    expect(disconnect?.requestContext.disconnectStatusCode).toBe(1006);
    await connect();
  });

  it("routes frames by the action field, falling back to $default", async () => {
    await start();
    const socket = await connect();
    socket.send(JSON.stringify({ action: "broadcast", message: "x" }));
    socket.send(JSON.stringify({ action: "sendmessage", message: "y" }));
    socket.send(JSON.stringify({ action: "nothing-like-it" }));
    socket.send("not json");
    socket.send(Buffer.from([0xff, 0x00]), { binary: true });
    const messages = await until(
      () => events("message").length === 5 && events("message"),
      "five messages",
    );
    const byBody = new Map(messages.map((event) => [event.body, event]));
    expect(byBody.get('{"action":"broadcast","message":"x"}')?.requestContext.routeKey).toBe(
      "broadcast",
    );
    expect(byBody.get('{"action":"sendmessage","message":"y"}')?.requestContext.routeKey).toBe(
      "sendmessage",
    );
    expect(byBody.get('{"action":"nothing-like-it"}')?.requestContext.routeKey).toBe("$default");
    expect(byBody.get("not json")?.requestContext).toMatchObject({
      routeKey: "$default",
      eventType: "MESSAGE",
    });
    expect(byBody.get("/wA=")).toMatchObject({
      isBase64Encoded: true,
      requestContext: { routeKey: "$default" },
    });
  });

  it("tells the client about a failed integration like API Gateway does", async () => {
    await start();
    const socket = await connect();
    const reply = new Promise<string>((resolve) =>
      socket.once("message", (data) => resolve(data.toString())),
    );
    socket.send("fail");
    const body = JSON.parse(await reply) as Record<string, string>;
    expect(body.message).toBe("Internal server error");
    expect(body.connectionId).toBe(events("connect")[0]?.requestContext.connectionId);
  });

  it("takes a 128 KB message sent in 32 KB frames as one message", async () => {
    await start();
    const socket = await connect();
    const message = "y".repeat(LIMITS.messageBytes);
    for (let at = 0; at < message.length; at += LIMITS.frameBytes) {
      socket.send(message.slice(at, at + LIMITS.frameBytes), {
        fin: at + LIMITS.frameBytes >= message.length,
      });
    }
    const [event] = await until(
      () => events("message").length > 0 && events("message"),
      "the message",
    );
    expect(event?.body).toHaveLength(LIMITS.messageBytes);
  });

  it("closes with 1009 on a message over 128 KB, even in 32 KB frames, and reports it to $disconnect", async () => {
    await start();
    const socket = await connect();
    const close = closed(socket);
    const message = "x".repeat(LIMITS.messageBytes + 1);
    for (let at = 0; at < message.length; at += LIMITS.frameBytes) {
      socket.send(message.slice(at, at + LIMITS.frameBytes), {
        fin: at + LIMITS.frameBytes >= message.length,
      });
    }
    expect((await close).code).toBe(CLOSE_CODES.messageTooBig);
    const [event] = await until(
      () => events("disconnect").length > 0 && events("disconnect"),
      "$disconnect",
    );
    expect(event?.requestContext).toMatchObject({
      eventType: "DISCONNECT",
      disconnectStatusCode: CLOSE_CODES.messageTooBig,
    });
    expect(events("message")).toEqual([]);
  });

  it("closes with 1009 on a single frame over 32 KB, as API Gateway does", async () => {
    await start();
    const socket = await connect();
    const close = closed(socket);
    socket.send("z".repeat(LIMITS.frameBytes + 1));
    expect((await close).code).toBe(CLOSE_CODES.messageTooBig);
    const [event] = await until(
      () => events("disconnect").length > 0 && events("disconnect"),
      "$disconnect",
    );
    expect(event?.requestContext.disconnectStatusCode).toBe(CLOSE_CODES.messageTooBig);
    expect(events("message")).toEqual([]);
  });

  it("refuses a malformed handshake before $connect runs, so nothing is registered", async () => {
    await start();
    const replace = (name: string, line?: string) =>
      VALID_UPGRADE.filter((l) => !l.startsWith(name)).concat(line === undefined ? [] : [line]);
    const malformed = [
      replace("Sec-WebSocket-Key"),
      replace("Sec-WebSocket-Key", "Sec-WebSocket-Key: c2hvcnQ="),
      replace("Upgrade:", "Upgrade: h2c"),
      replace("Sec-WebSocket-Version", "Sec-WebSocket-Version: 99"),
      [...VALID_UPGRADE, "Sec-WebSocket-Protocol: a,,b"],
      ["POST /local HTTP/1.1", ...VALID_UPGRADE.slice(1), "Content-Length: 0"],
    ];
    const statuses: number[] = [];
    for (const lines of malformed) {
      const { status, socket } = await rawUpgrade(lines);
      socket.destroy();
      statuses.push(status);
    }
    expect(statuses).toEqual([400, 400, 400, 400, 400, 405]);
    // Positive control: the same helper with a valid handshake does reach $connect.
    const { status, socket } = await rawUpgrade(VALID_UPGRADE);
    socket.destroy();
    expect(status).toBe(101);
    expect(events("connect")).toHaveLength(1);
  });

  it("delivers a frame that arrives in the same read as an oversized frame after it", async () => {
    await start();
    const { status, socket } = await rawUpgrade(VALID_UPGRADE);
    expect(status).toBe(101);
    // The gateway's close frame is all it sends here; leaving then ends the connection at once.
    socket.once("data", () => socket.destroy());
    socket.write(
      Buffer.concat([
        clientFrame(0x1, Buffer.from("before the big one")),
        clientFrame(0x1, Buffer.alloc(LIMITS.frameBytes + 1, "z")),
      ]),
    );
    const [disconnect] = await until(
      () => events("disconnect").length > 0 && events("disconnect"),
      "$disconnect",
    );
    expect(disconnect?.requestContext.disconnectStatusCode).toBe(CLOSE_CODES.messageTooBig);
    // $default and $disconnect run in environments of their own, so either may report first.
    const messages = await until(
      () => events("message").length > 0 && events("message"),
      "the frame before the big one",
    );
    expect(messages.map((event) => event.body)).toEqual(["before the big one"]);
  });

  it("closes idle connections with 1001", async () => {
    await start({ idleTimeoutMs: 150 });
    const socket = await connect();
    expect(await closed(socket)).toEqual({ code: CLOSE_CODES.goingAway, reason: "Going away" });
  });

  it("closes any connection after the maximum duration, however active", async () => {
    await start({ maxConnectionMs: 300, idleTimeoutMs: 200 });
    const socket = await connect();
    const keepAlive = setInterval(() => socket.send("ping"), 50);
    const opened = Date.now();
    const close = await closed(socket);
    clearInterval(keepAlive);
    expect(close.code).toBe(CLOSE_CODES.goingAway);
    expect(Date.now() - opened).toBeGreaterThanOrEqual(250);
  });

  it("invokes the topic subscriber with an SNS event for a published message", async () => {
    const { outputs } = await start();
    const sns = new SNSClient({
      endpoint: outputs.endpoints?.sns,
      region: outputs.region,
      credentials: { accessKeyId: "any", secretAccessKey: "thing" },
    });
    await sns.send(
      new PublishCommand({ TopicArn: outputs.topicArn, Message: '{"hello":"world"}' }),
    );
    sns.destroy();
    const [event] = await until(
      () => events("subscriber").length > 0 && events("subscriber"),
      "the subscriber",
    );
    expect(event?.Records).toMatchObject([
      { Sns: { TopicArn: outputs.topicArn, Message: '{"hello":"world"}' } },
    ]);
  });

  it("accepts publishes but invokes nothing when started without the topic's subscriber", async () => {
    const { outputs } = await start({ topicSubscriber: false });
    const sns = new SNSClient({
      endpoint: outputs.endpoints?.sns,
      region: outputs.region,
      credentials: { accessKeyId: "any", secretAccessKey: "thing" },
    });
    const published = await sns.send(
      new PublishCommand({ TopicArn: outputs.topicArn, Message: "lost" }),
    );
    sns.destroy();
    expect(published.MessageId).toBeTruthy();
    // SNS hands a message to its subscriber before answering the publish, so an invocation would
    // have started by now. Positive control: a frame sent afterwards is recorded by its function.
    const socket = await connect();
    socket.send("after the publish");
    await until(() => events("message").length > 0, "the message after the publish");
    expect(events("subscriber")).toEqual([]);
  });

  it("refuses to start over a running stage's recorded outputs, and names a port in use", async () => {
    const running = await start();
    await expect(
      startLocalStage({ port: 0, stateDir: join(dir, "state"), distDir: join(dir, "dist") }),
    ).rejects.toThrow(`A local stage is already running at ${running.outputs.websocketUrl}`);
    const port = Number(new URL(running.outputs.websocketUrl).port);
    await expect(
      startLocalStage({ port, stateDir: join(dir, "other-state"), distDir: join(dir, "dist") }),
    ).rejects.toThrow(`Port ${port} on 127.0.0.1 is in use`);
  });

  it("records its outputs while running and clears them when stopped; clients get 1001", async () => {
    const running = await start();
    const location = { env: { [STATE_DIR_ENV]: join(dir, "state") } };
    expect(await resolveStageOutputs("local", location)).toEqual(running.outputs);
    const socket = await connect();
    const close = closed(socket);
    await running.stop();
    expect((await close).code).toBe(CLOSE_CODES.goingAway);
    expect(events("disconnect")).toHaveLength(1);
    await expect(resolveStageOutputs("local", location)).rejects.toThrow(/not running/);
    const log = (await readFile(running.logFile, "utf8"))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(log).toContainEqual(
      expect.objectContaining({
        type: "invocation",
        function: "connect",
        trigger: "$connect",
        result: "ok",
      }),
    );
  });
});
