import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { InvokeCommand, LambdaClient, ResourceNotFoundException } from "@aws-sdk/client-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FunctionName } from "../../../functions/contract.js";
import { LOOPBACK_CREDENTIALS } from "../http/request-signature.js";
import { signedFetch } from "../http/signed-fetch.js";
import { type InvokeApi, invokeApiListener, resolveFunction } from "./invoke-api.js";

/**
 * The local Invoke API, driven by the real Lambda client, in front of a stand-in for the stage:
 * `invoke` answers what the event asks for, `queue` records what was queued.
 */

const queued: Array<{ fn: FunctionName; event: unknown }> = [];
const invoked: Array<{ fn: FunctionName; event: unknown; requestId: string }> = [];
const api: InvokeApi = {
  async invoke(fn, event, requestId) {
    invoked.push({ fn, event, requestId });
    const asked = event as { fail?: string; result?: unknown };
    if (asked.fail !== undefined) {
      return {
        ok: false,
        error: `Error: ${asked.fail}`,
        timedOut: false,
        functionError: { errorType: "Error", errorMessage: asked.fail, trace: ["Error: boom"] },
      };
    }
    return { ok: true, result: asked.result };
  },
  queue(fn, event) {
    queued.push({ fn, event });
    return `queued-${queued.length}`;
  },
};

let server: Server;
let lambda: LambdaClient;
let endpoint: string;

beforeAll(async () => {
  server = createServer(invokeApiListener(api));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  lambda = new LambdaClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    maxAttempts: 1,
  });
});

afterAll(async () => {
  lambda.destroy();
  server.close();
  await once(server, "close");
});

const payload = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);

describe("local Lambda Invoke API", () => {
  it("answers RequestResponse with 200 and the function's result", async () => {
    const answer = await lambda.send(
      new InvokeCommand({ FunctionName: "message", Payload: payload({ result: { n: 1 } }) }),
    );
    expect(answer.StatusCode).toBe(200);
    expect(answer.FunctionError).toBeUndefined();
    expect(answer.ExecutedVersion).toBe("$LATEST");
    expect(JSON.parse(text(answer.Payload))).toEqual({ n: 1 });
    expect(invoked.at(-1)).toMatchObject({ fn: "message", event: { result: { n: 1 } } });
  });

  it("answers null for a function that returns nothing", async () => {
    const answer = await lambda.send(new InvokeCommand({ FunctionName: "connect" }));
    expect(answer.StatusCode).toBe(200);
    expect(text(answer.Payload)).toBe("null");
  });

  it("reports a function error in X-Amz-Function-Error with Lambda's error payload", async () => {
    const answer = await lambda.send(
      new InvokeCommand({ FunctionName: "subscriber", Payload: payload({ fail: "boom" }) }),
    );
    expect(answer.StatusCode).toBe(200);
    expect(answer.FunctionError).toBe("Unhandled");
    expect(JSON.parse(text(answer.Payload))).toEqual({
      errorType: "Error",
      errorMessage: "boom",
      trace: ["Error: boom"],
    });
  });

  it("queues an Event invocation and answers 202 at once, without running it", async () => {
    const before = invoked.length;
    const answer = await lambda.send(
      new InvokeCommand({
        FunctionName: "websocket-stages-local-subscriber",
        InvocationType: "Event",
        Payload: payload({ page: 2 }),
      }),
    );
    expect(answer.StatusCode).toBe(202);
    expect(queued.at(-1)).toEqual({ fn: "subscriber", event: { page: 2 } });
    expect(answer.$metadata.requestId).toBe(`queued-${queued.length}`);
    expect(invoked).toHaveLength(before);
  });

  it("answers DryRun with 204 and runs nothing", async () => {
    const counts = [invoked.length, queued.length];
    const answer = await lambda.send(
      new InvokeCommand({ FunctionName: "message", InvocationType: "DryRun" }),
    );
    expect(answer.StatusCode).toBe(204);
    expect([invoked.length, queued.length]).toEqual(counts);
  });

  it("refuses an unknown function with ResourceNotFoundException, naming its ARN", async () => {
    const refused = lambda.send(new InvokeCommand({ FunctionName: "nope", Payload: payload({}) }));
    await expect(refused).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(refused).rejects.toMatchObject({
      $metadata: { httpStatusCode: 404 },
      message: "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope",
    });
  });

  it("refuses a body that is not JSON, and other operations, in Lambda's error shape", async () => {
    const signing = { service: "lambda", credentials: LOOPBACK_CREDENTIALS } as const;
    const bad = await signedFetch(
      `${endpoint}/2015-03-31/functions/message/invocations`,
      { method: "POST", body: "{not json" },
      signing,
    );
    expect(bad.status).toBe(400);
    expect(bad.headers.get("x-amzn-errortype")).toBe("InvalidRequestContentException");
    expect(await bad.json()).toMatchObject({
      Type: "User",
      message: expect.stringMatching(/json/),
    });
    const other = await signedFetch(
      `${endpoint}/2015-03-31/functions/message`,
      { method: "GET" },
      signing,
    );
    expect(other.status).toBe(404);
    expect(other.headers.get("x-amzn-errortype")).toBe("UnknownOperationException");
  });

  it("refuses an unsigned Invoke with 403 before invoking or queueing anything", async () => {
    const before = { invoked: invoked.length, queued: queued.length };
    const unsigned = await fetch(`${endpoint}/2015-03-31/functions/message/invocations`, {
      method: "POST",
      headers: { "x-amz-invocation-type": "Event" },
      body: JSON.stringify({ result: 1 }),
    });
    expect(unsigned.status).toBe(403);
    expect(unsigned.headers.get("x-amzn-errortype")).toBe("MissingAuthenticationTokenException");
    expect({ invoked: invoked.length, queued: queued.length }).toEqual(before);
    // Positive control: the same request signed is queued.
    const signed = await signedFetch(
      `${endpoint}/2015-03-31/functions/message/invocations`,
      {
        method: "POST",
        headers: { "x-amz-invocation-type": "Event" },
        body: JSON.stringify({ result: 1 }),
      },
      { service: "lambda", credentials: LOOPBACK_CREDENTIALS },
    );
    expect(signed.status).toBe(202);
    expect(queued.length).toBe(before.queued + 1);
  });
});

describe("function names the Invoke API accepts", () => {
  it("takes the contract name, the stage name, its ARN and partial ARN, and $LATEST", () => {
    for (const name of [
      "nope",
      "websocket-stages-dev-message",
      "message:1",
      "111111111111:function:websocket-stages-local-message",
    ]) {
      expect(resolveFunction(name), name).toBeUndefined();
    }
    for (const name of [
      "message",
      "websocket-stages-local-message",
      "arn:aws:lambda:us-east-1:000000000000:function:websocket-stages-local-message",
      "000000000000:function:websocket-stages-local-message",
      "websocket-stages-local-message:$LATEST",
    ]) {
      expect(resolveFunction(name), name).toBe("message");
    }
    expect(resolveFunction("message", "$LATEST")).toBe("message");
    expect(resolveFunction("message", "2")).toBeUndefined();
  });
});
