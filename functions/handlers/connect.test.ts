import { beforeEach, describe, expect, it, vi } from "vitest";
import { ENV } from "../contract.js";
import { checkLeastPrivilege, mockS3, s3Error } from "../fixtures/aws.js";
import {
  connectEvent,
  FIXTURE_CONNECTED_AT,
  FIXTURE_PREFIX,
  functionEnvironment,
  lambdaContext,
} from "../fixtures/events.js";
import { inFunctionEnvironment } from "../fixtures/function-environment.js";
import { captureLogsPerTest } from "../fixtures/logs.js";

vi.mock("../lib/object-store.js", () => import("../fixtures/sdk-senders.js"));

const bucket = mockS3();
checkLeastPrivilege("connect", bucket.mock);
const logs = captureLogsPerTest();
let handler: typeof import("./connect.js").handler;

inFunctionEnvironment("connect", async () => {
  ({ handler } = await import("./connect.js"));
});
beforeEach(() => bucket.reset());

describe("connect handler", () => {
  it("registers the connection under prefix + base64url(id) with connectedAt and source IP", async () => {
    const id = "L0SM9cOFvHcCIhw=";
    const result = await handler(connectEvent(id), lambdaContext("connect"));

    expect(result).toEqual({ statusCode: 200 });
    const key = `${FIXTURE_PREFIX}${Buffer.from(id).toString("base64url")}`;
    expect([...bucket.objects.keys()]).toEqual([key]);
    expect(JSON.parse(bucket.objects.get(key) ?? "")).toEqual({
      connectionId: id,
      connectedAt: new Date(FIXTURE_CONNECTED_AT).toISOString(),
      sourceIp: "192.0.2.1",
    });
  });

  it("keeps ids with + / = and mixed case apart, with no slash inside the encoded part", async () => {
    const ids = ["ab+c/d=", "AB+c/d=", "ab+c/d"];
    for (const id of ids) await handler(connectEvent(id), lambdaContext("connect"));

    expect(bucket.connectionIds()).toEqual([...ids].sort());
    for (const key of bucket.objects.keys()) {
      expect(key.slice(FIXTURE_PREFIX.length)).toMatch(/^[A-Za-z0-9_-]+$/);
    }
  });

  it("leaves sourceIp out when the event has none", async () => {
    await handler(connectEvent("noIp=", { sourceIp: null }), lambdaContext("connect"));

    const [body] = [...bucket.objects.values()];
    expect(JSON.parse(body ?? "")).not.toHaveProperty("sourceIp");
  });

  it("refuses the connection with a non-2xx status and registers nothing when S3 fails", async () => {
    bucket.failures.set("PutObject", s3Error("InternalError", 500));

    const result = await handler(connectEvent("refused="), lambdaContext("connect"));

    expect(result.statusCode).toBe(503);
    expect(result.body).toMatch(/try connecting again/i);
    expect(bucket.objects.size).toBe(0);
    const [line] = logs.withMessage(/refused/);
    expect(line).toMatchObject({ level: "ERROR", connectionId: "refused=" });
    expect(JSON.stringify(line?.error)).toContain("InternalError");
  });

  it("logs the registration with the connection id and both request ids", async () => {
    const event = connectEvent("logged=");
    const context = lambdaContext("connect");
    await handler(event, context);

    expect(logs.withMessage(/registered/)).toEqual([
      expect.objectContaining({
        level: "INFO",
        connectionId: "logged=",
        requestId: event.requestContext.requestId,
        function_request_id: context.awsRequestId,
      }),
    ]);
  });

  it("fails its cold start naming the variable that is not set", async () => {
    vi.resetModules();
    vi.stubEnv(ENV.connectionsBucket, "");
    try {
      await expect(import("./connect.js")).rejects.toThrow(
        new RegExp(`${ENV.connectionsBucket} is not set`),
      );
    } finally {
      vi.stubEnv(
        ENV.connectionsBucket,
        functionEnvironment("connect")[ENV.connectionsBucket] ?? "",
      );
    }
  });
});
