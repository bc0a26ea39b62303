import { beforeEach, describe, expect, it, vi } from "vitest";
import { checkLeastPrivilege, mockS3, s3Error } from "../fixtures/aws.js";
import { disconnectEvent, lambdaContext } from "../fixtures/events.js";
import { inFunctionEnvironment } from "../fixtures/function-environment.js";
import { captureLogsPerTest } from "../fixtures/logs.js";

vi.mock("../lib/object-store.js", () => import("../fixtures/sdk-senders.js"));

const bucket = mockS3();
checkLeastPrivilege("disconnect", bucket.mock);
const logs = captureLogsPerTest();
let handler: typeof import("./disconnect.js").handler;

inFunctionEnvironment("disconnect", async () => {
  ({ handler } = await import("./disconnect.js"));
});
beforeEach(() => bucket.reset());

describe("disconnect handler", () => {
  it("removes the closed connection and leaves the others", async () => {
    bucket.register("gone+/=", "stays+/=");

    const result = await handler(disconnectEvent("gone+/="), lambdaContext("disconnect"));

    expect(result).toEqual({ statusCode: 200 });
    expect(bucket.connectionIds()).toEqual(["stays+/="]);
  });

  it("succeeds again for a connection already removed (idempotent)", async () => {
    bucket.register("twice=");

    const first = await handler(disconnectEvent("twice="), lambdaContext("disconnect"));
    const second = await handler(disconnectEvent("twice="), lambdaContext("disconnect"));

    expect([first, second]).toEqual([{ statusCode: 200 }, { statusCode: 200 }]);
    expect(bucket.connectionIds()).toEqual([]);
  });

  it("logs the close code and reason with the connection id", async () => {
    await handler(disconnectEvent("closing="), lambdaContext("disconnect"));

    expect(logs.withMessage(/removed/)).toEqual([
      expect.objectContaining({
        connectionId: "closing=",
        disconnectStatusCode: 1001,
        disconnectReason: "Going away",
      }),
    ]);
  });

  it("reports an S3 failure in the log and a 500, without throwing", async () => {
    bucket.register("stuck=");
    bucket.failures.set("DeleteObject", s3Error("SlowDown", 503));

    const result = await handler(disconnectEvent("stuck="), lambdaContext("disconnect"));

    expect(result).toEqual({ statusCode: 500 });
    expect(bucket.connectionIds()).toEqual(["stuck="]);
    expect(logs.withMessage(/could not be removed/)).toEqual([
      expect.objectContaining({ level: "ERROR", connectionId: "stuck=" }),
    ]);
  });
});
