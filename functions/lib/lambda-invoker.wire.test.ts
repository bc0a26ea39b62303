import { type AddressInfo, createServer as createTcpServer, type Socket } from "node:net";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { afterEach, describe, expect, it, vi } from "vitest";
import { FANOUT } from "../contract.js";
import { stubSenderEnvironment } from "../fixtures/function-environment.js";
import { type Received, standInServer } from "../fixtures/stand-in-server.js";
import { createShardInvoker, SignedShardInvoker } from "./lambda-invoker.js";
import { InvokeUnansweredError } from "./shards.js";

/**
 * The signed invoker on the wire, against a Lambda Invoke API stand-in on 127.0.0.1: the request
 * it sends matches the one the SDK's InvokeCommand sends for the same call.
 */

const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" };
/** Replies queued by the test; 202 once they run out. */
const stand = standInServer<{ status: number; errorType?: string; delayMs?: number }>(
  (reply = { status: 202 }, response) => {
    if (reply.delayMs !== undefined) {
      setTimeout(() => response.writeHead(reply.status).end(), reply.delayMs);
      return;
    }
    response.writeHead(reply.status, {
      "content-type": "application/json",
      ...(reply.errorType === undefined ? {} : { "x-amzn-errortype": reply.errorType }),
    });
    response.end(reply.status === 202 ? "" : JSON.stringify({ message: "injected" }));
  },
);
const { seen, replies: answers } = stand;

const payload = JSON.stringify({ message: "h\u00e9llo \u0001", connectionIds: ["a+/="] });

describe("SignedShardInvoker", () => {
  it("sends the request the SDK's InvokeCommand sends for an Event invocation", async () => {
    const sdk = new LambdaClient({
      endpoint: stand.endpoint.href,
      region: "eu-west-1",
      credentials,
    });
    await sdk.send(
      new InvokeCommand({
        FunctionName: "websocket-stages-dev-fanout",
        InvocationType: "Event",
        Payload: Buffer.from(payload, "utf8"),
      }),
    );
    sdk.destroy();
    const invoker = new SignedShardInvoker({
      endpoint: stand.endpoint,
      region: "eu-west-1",
      credentials: async () => credentials,
    });
    await invoker.invoke("websocket-stages-dev-fanout", payload);
    invoker.close();

    expect(seen).toHaveLength(2);
    const [fromSdk, fromInvoker] = seen as [Received, Received];
    const wire = (request: Received) => ({
      method: request.method,
      path: request.path,
      body: request.body,
      contentType: request.headers["content-type"],
      invocationType: request.headers["x-amz-invocation-type"],
      scope: /Credential=AKIDEXAMPLE\/\d{8}\/([^,]+),/.exec(
        String(request.headers.authorization),
      )?.[1],
    });
    expect(wire(fromInvoker)).toEqual(wire(fromSdk));
    expect(wire(fromInvoker)).toMatchObject({
      path: "/2015-03-31/functions/websocket-stages-dev-fanout/invocations",
      invocationType: "Event",
      scope: "eu-west-1/lambda/aws4_request",
      body: payload,
    });
    expect(String(fromInvoker.headers.authorization)).toMatch(
      /SignedHeaders=[^,]*x-amz-invocation-type/,
    );
  });

  it("retries throttling and server errors, then gives up saying why", async () => {
    const invoker = new SignedShardInvoker({
      endpoint: stand.endpoint,
      region: "eu-west-1",
      credentials: async () => credentials,
    });
    answers.push({ status: 429, errorType: "TooManyRequestsException" }, { status: 502 });
    await invoker.invoke("fanout", payload);
    expect(seen).toHaveLength(3);

    seen.length = 0;
    for (let i = 0; i < FANOUT.invokeMaxAttempts; i += 1) {
      answers.push({ status: 429, errorType: "TooManyRequestsException" });
    }
    await expect(invoker.invoke("fanout", payload)).rejects.toThrow(
      new RegExp(
        `in ${FANOUT.invokeMaxAttempts} attempts: TooManyRequestsException \\(HTTP 429\\)`,
      ),
    );
    expect(seen).toHaveLength(FANOUT.invokeMaxAttempts);
    invoker.close();
  });

  it("does not retry a refusal no retry can fix", async () => {
    const invoker = new SignedShardInvoker({
      endpoint: stand.endpoint,
      region: "eu-west-1",
      credentials: async () => credentials,
    });
    answers.push({ status: 404, errorType: "ResourceNotFoundException" });
    await expect(invoker.invoke("missing", payload)).rejects.toThrow(
      /refused the asynchronous invoke of missing: ResourceNotFoundException \(HTTP 404\)/,
    );
    expect(seen).toHaveLength(1);
    invoker.close();
  });
});

describe("SignedShardInvoker's two timeouts", () => {
  const invokerWith = (
    timeouts: { sendTimeoutMs?: number; answerTimeoutMs?: number; minAnswerTimeoutMs?: number },
    at: URL = stand.endpoint,
  ) =>
    new SignedShardInvoker({
      endpoint: at,
      region: "eu-west-1",
      credentials: async () => credentials,
      baseDelayMs: 1,
      ...timeouts,
    });

  it("waits for a late answer once the request is written: the send timeout no longer applies", async () => {
    // Accepted 100 ms after the request, a hundred times the send timeout.
    answers.push({ status: 202, delayMs: 100 });
    const invoker = invokerWith({ sendTimeoutMs: 1, answerTimeoutMs: 10_000 });
    await invoker.invoke("fanout", payload);
    invoker.close();
    expect(seen).toHaveLength(1);
  });

  it("does not retry a written request left unanswered: the shard may be queued", async () => {
    answers.push("hold");
    const invoker = invokerWith({ answerTimeoutMs: 30, minAnswerTimeoutMs: 1 });
    const outcome = invoker.invoke("fanout", payload);
    await expect(outcome).rejects.toThrow(InvokeUnansweredError);
    await expect(outcome).rejects.toThrow(
      /sent but not answered: no answer within 30 ms of the request; Lambda may have queued it, so it is not retried/,
    );
    // The next request is answered at once: had the invoker retried, the server would have seen it.
    invoker.close();
    expect(seen).toHaveLength(1);
  });

  it("stops waiting for an answer at the caller's deadline", async () => {
    answers.push("hold");
    const invoker = invokerWith({ answerTimeoutMs: 600_000, minAnswerTimeoutMs: 1 });
    await expect(invoker.invoke("fanout", payload, { deadline: Date.now() + 30 })).rejects.toThrow(
      InvokeUnansweredError,
    );
    invoker.close();
    expect(seen).toHaveLength(1);
  });

  it("retries a request that could not be sent (positive control: the retries reach the server)", async () => {
    // A server that accepts connections and never reads: a body larger than the socket buffers
    // cannot be written, so every attempt stalls before Lambda could have queued anything.
    const connections: Socket[] = [];
    const stalled = createTcpServer((socket) => {
      socket.pause();
      connections.push(socket);
    });
    await new Promise<void>((resolve) => stalled.listen(0, "127.0.0.1", resolve));
    const at = new URL(`http://127.0.0.1:${(stalled.address() as AddressInfo).port}`);
    const invoker = invokerWith({ sendTimeoutMs: 50, answerTimeoutMs: 600_000 }, at);
    const big = "x".repeat(48 * 1024 * 1024);
    const outcome = invoker.invoke("fanout", big);
    await expect(outcome).rejects.toThrow(
      new RegExp(
        `in ${FANOUT.invokeMaxAttempts} attempts: the request could not be sent within 50 ms`,
      ),
    );
    await expect(outcome).rejects.not.toThrow(InvokeUnansweredError);
    invoker.close();
    expect(connections).toHaveLength(FANOUT.invokeMaxAttempts);
    for (const socket of connections) socket.destroy();
    await new Promise((resolve) => stalled.close(resolve));
  });

  it("sends nothing once the deadline has passed", async () => {
    const invoker = invokerWith({});
    await expect(invoker.invoke("fanout", payload, { deadline: Date.now() - 1 })).rejects.toThrow(
      /was not sent: the fan-out's deadline came first/,
    );
    invoker.close();
    expect(seen).toHaveLength(0);
  });
});

describe("createShardInvoker", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it("builds nothing until its first invoke: a missing region surfaces there, not at import", async () => {
    stubSenderEnvironment("lambda");
    const invoker = createShardInvoker();
    await expect(invoker.invoke("fanout-worker", payload)).rejects.toThrow(
      "No region to invoke the fan-out worker in: AWS_REGION is not set. Set AWS_REGION.",
    );
    expect(seen).toHaveLength(0);
  });

  it("is built once, on the first invoke, and keeps its connection for the next", async () => {
    stubSenderEnvironment("lambda", stand.endpoint, credentials);
    const invoker = createShardInvoker();
    await invoker.invoke("fanout-worker", payload);
    await invoker.invoke("fanout-worker", payload);
    expect(seen.map((request) => request.path)).toEqual([
      "/2015-03-31/functions/fanout-worker/invocations",
      "/2015-03-31/functions/fanout-worker/invocations",
    ]);
    expect(new Set(seen.map((request) => request.socket)).size).toBe(1);
  });
});
