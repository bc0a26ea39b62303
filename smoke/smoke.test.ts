import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type WebSocket, WebSocketServer } from "ws";
import type { StageOutputs } from "../functions/contract.js";
import { ERROR_CODES, echoFrame, errorFrame } from "../functions/lib/protocol.js";
import { runSmoke, SMOKE_STEPS, type StepResult } from "./smoke.js";

/**
 * A stand-in stage small enough to misbehave on purpose: a WebSocket server that broadcasts and
 * answers bad frames, and an SNS endpoint speaking the query protocol that fans out to every socket.
 */
interface Faults {
  /** The topic has no subscriber. */
  noDelivery?: boolean;
  /** The subscriber wraps what it delivers. */
  wrapDelivery?: boolean;
  /** Error frames go to every client. */
  errorToAll?: boolean;
  /** The sender of a bad frame is disconnected. */
  closeOnError?: boolean;
  /** Echo replies go to every client. */
  echoToAll?: boolean;
}

let servers: Server[] = [];

async function listen(server: Server): Promise<string> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  servers.push(server);
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function fakeStage(faults: Faults = {}): Promise<StageOutputs> {
  const sockets = new Map<string, WebSocket>();
  const everyone = (data: string) => {
    for (const socket of sockets.values()) socket.send(data);
  };
  const gateway = createServer();
  const wss = new WebSocketServer({ server: gateway });
  wss.on("connection", (socket) => {
    const connectionId = `fake${sockets.size}+/=`;
    sockets.set(connectionId, socket);
    socket.on("close", () => sockets.delete(connectionId));
    socket.on("message", (data) => {
      let frame: { action?: string; message?: unknown } | undefined;
      try {
        frame = JSON.parse(String(data));
      } catch {
        const error = errorFrame({ code: ERROR_CODES.notJson, message: "not JSON" });
        if (faults.errorToAll === true) everyone(error);
        else socket.send(error);
        if (faults.closeOnError === true) socket.close(1011, "crashed");
        return;
      }
      if (frame?.action === "broadcast") everyone(JSON.stringify({ message: frame.message }));
      if (frame?.action === "echo") {
        const reply = echoFrame(JSON.stringify(frame.message), connectionId);
        if (faults.echoToAll === true) everyone(reply);
        else socket.send(reply);
      }
    });
  });
  const sns = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => {
      body += chunk.toString("utf8");
    });
    request.on("end", () => {
      const params = new URLSearchParams(body);
      const message = params.get("Message") ?? "";
      const addressed = params.get("MessageAttributes.entry.1.Value.StringValue");
      const recipients =
        addressed === null
          ? [...sockets.values()]
          : (JSON.parse(addressed) as string[]).flatMap((id) => sockets.get(id) ?? []);
      if (faults.noDelivery !== true) {
        const data = faults.wrapDelivery === true ? JSON.stringify({ message }) : message;
        for (const socket of recipients) socket.send(data);
      }
      response.setHeader("content-type", "text/xml");
      response.end(
        "<PublishResponse><PublishResult><MessageId>m-1</MessageId></PublishResult></PublishResponse>",
      );
    });
  });
  const gatewayAddress = await listen(gateway);
  const snsAddress = await listen(sns);
  return {
    stage: "local",
    region: "us-east-1",
    websocketUrl: `ws://${gatewayAddress}/local`,
    managementEndpoint: `http://${gatewayAddress}/local`,
    topicArn: "arn:aws:sns:us-east-1:000000000000:websocket-stages-local",
    connectionsBucket: "unused",
    connectionsPrefix: "connections/",
    endpoints: {
      s3: "http://127.0.0.1:9",
      sns: `http://${snsAddress}`,
      lambda: "http://127.0.0.1:9",
    },
  };
}

afterEach(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
  servers = [];
});

const options = { timeoutMs: 1500, checkRegistry: false, broadcast: true } as const;

function statuses(steps: readonly StepResult[]) {
  return steps.map((step) => `${step.name}:${step.status}`);
}

describe("runSmoke against a stand-in stage", () => {
  it("passes every step of a stage that works, reporting each as it ends", async () => {
    const reported: StepResult[] = [];
    const result = await runSmoke(await fakeStage(), {
      ...options,
      onStep: (step) => reported.push(step),
    });
    expect(statuses(result.steps)).toEqual(SMOKE_STEPS.map((step) => `${step.name}:passed`));
    expect(reported).toEqual(result.steps);
    expect(result.passed).toBe(true);
    expect(result.latencies.snsDeliveryMs?.a).toBeGreaterThan(0);
    expect(result.latencies.broadcastMs?.b).toBeGreaterThan(0);
    expect(result.steps[4]?.detail).toMatch(/^error not_json after .* ms, B got none/);
  });

  it("skips the broadcast step, and passes, for a profile that allows no broadcast", async () => {
    const result = await runSmoke(await fakeStage(), { ...options, broadcast: false });
    expect(result.passed).toBe(true);
    expect(statuses(result.steps)).toEqual([
      "connect:passed",
      "reply:passed",
      "sns-delivery:passed",
      "broadcast:skipped",
      "malformed-frame:passed",
      "close:passed",
    ]);
    expect(result.steps[3]?.detail).toMatch(/not in this stage's profile/);
    expect(result.latencies.broadcastMs).toBeUndefined();
  });

  it("fails step 2 when an echo reply reaches the other client too", async () => {
    const result = await runSmoke(await fakeStage({ echoToAll: true }), options);
    expect(result.steps[1]).toMatchObject({
      status: "failed",
      failure: { received: expect.stringMatching(/received the other client's reply/) },
    });
  });

  it("fails step 3, names the subscriber's logs and skips the rest when the topic delivers nothing", async () => {
    const result = await runSmoke(await fakeStage({ noDelivery: true }), options);
    expect(result.passed).toBe(false);
    expect(statuses(result.steps)).toEqual([
      "connect:passed",
      "reply:passed",
      "sns-delivery:failed",
      "broadcast:skipped",
      "malformed-frame:skipped",
      "close:skipped",
    ]);
    expect(result.steps[2]?.failure).toMatchObject({
      expected: expect.stringMatching(/^client [AB] to receive the published nonce smoke-sns-/),
      received: "within 1500 ms nothing arrived",
      next: "check the topic's subscriber: `npm run logs -- local --function subscriber`",
    });
  });

  it("fails step 3 when a client receives the nonce wrapped instead of exactly", async () => {
    const result = await runSmoke(await fakeStage({ wrapDelivery: true }), options);
    expect(result.steps[2]?.failure?.received).toMatch(
      /^it received "{\\"message\\":\\"smoke-sns-/,
    );
  });

  it("fails step 5 when the error frame reaches the other client too", async () => {
    const result = await runSmoke(await fakeStage({ errorToAll: true }), options);
    expect(result.steps[4]).toMatchObject({
      status: "failed",
      failure: {
        expected: "only client A to receive the error frame",
        received: expect.stringContaining("client B received"),
      },
    });
  });

  it("fails step 5 when the sender is disconnected after its malformed frame", async () => {
    const result = await runSmoke(await fakeStage({ closeOnError: true }), options);
    expect(result.steps[4]?.status).toBe("failed");
    expect(result.steps[4]?.failure?.received).toBe('it was closed (code 1011, "crashed")');
  });

  it("fails step 1 with the way to check the stage when nothing listens", async () => {
    const stage = await fakeStage();
    const result = await runSmoke({ ...stage, websocketUrl: "ws://127.0.0.1:9/local" }, options);
    expect(result.steps[0]).toMatchObject({
      status: "failed",
      failure: {
        received: expect.stringContaining("connection refused"),
        next: expect.stringContaining("npm run outputs -- local"),
      },
    });
  });
});
