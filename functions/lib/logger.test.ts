import { describe, expect, it } from "vitest";
import { lambdaContext } from "../fixtures/events.js";
import { captureLogsPerTest } from "../fixtures/logs.js";
import { logger, startInvocationLog } from "./logger.js";

const logs = captureLogsPerTest();

describe("invocation log", () => {
  it("writes JSON lines carrying the connection id and both request ids", () => {
    const context = lambdaContext("message");
    startInvocationLog(context, { connectionId: "abc=", requestId: "req-1" });
    logger.info("something happened", { detail: 1 });

    expect(logs.lines()).toEqual([
      expect.objectContaining({
        level: "INFO",
        message: "something happened",
        connectionId: "abc=",
        requestId: "req-1",
        function_request_id: context.awsRequestId,
        detail: 1,
      }),
    ]);
  });

  it("forgets the previous invocation's keys", () => {
    startInvocationLog(lambdaContext("message"), { connectionId: "first=", requestId: "r1" });
    startInvocationLog(lambdaContext("subscriber"), {});
    logger.info("second");

    const [line] = logs.lines();
    expect(line).not.toHaveProperty("connectionId");
    expect(line).not.toHaveProperty("requestId");
  });
});
