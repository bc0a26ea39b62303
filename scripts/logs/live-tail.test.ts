import {
  CloudWatchLogsClient,
  StartLiveTailCommand,
  type StartLiveTailResponseStream,
} from "@aws-sdk/client-cloudwatch-logs";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { SAMPLE_DEV_OUTPUTS } from "../../smoke/sample-outputs.js";
import { followLiveTail, formatTailedEvent, logGroupArns, type TailedEvent } from "./live-tail.js";

const dev = SAMPLE_DEV_OUTPUTS;
const prefix = "arn:aws:logs:eu-west-1:123456789012:log-group:";

const logs = mockClient(CloudWatchLogsClient);
afterEach(() => logs.reset());

async function* stream(
  ...items: StartLiveTailResponseStream[]
): AsyncGenerator<StartLiveTailResponseStream> {
  yield* items;
}

describe("logGroupArns", () => {
  it("builds each source's log group ARN with the account from the topic's ARN", () => {
    expect([...logGroupArns(dev, ["message", "api"])]).toEqual([
      [`${prefix}/aws/lambda/websocket-stages-dev-message`, "message"],
      [`${prefix}/aws/apigateway/websocket-stages-dev`, "api"],
    ]);
  });

  it("refuses outputs whose topic ARN names no account", () => {
    expect(() => logGroupArns({ ...dev, topicArn: "websocket-stages-dev" }, ["api"])).toThrow(
      /names no AWS account: check `npm run outputs -- dev`/,
    );
  });
});

describe("followLiveTail", () => {
  it("tails the given groups and reports each event with its source", async () => {
    const groups = logGroupArns(dev, ["subscriber", "api"]);
    logs.on(StartLiveTailCommand).resolves({
      responseStream: stream(
        { sessionStart: { sessionId: "s" } },
        {
          sessionUpdate: {
            sessionMetadata: { sampled: false },
            sessionResults: [
              {
                logGroupIdentifier: `${prefix}/aws/lambda/websocket-stages-dev-subscriber`,
                timestamp: Date.parse("2026-11-23T10:00:00.500Z"),
                message: '{"level":"INFO","message":"Delivered","delivered":3}',
              },
              {
                logGroupIdentifier: "123456789012:/aws/apigateway/websocket-stages-dev",
                timestamp: Date.parse("2026-11-23T10:00:00.600Z"),
                message: '{"routeKey":"$connect","status":"200"}',
              },
            ],
          },
        },
      ),
    });
    const events: TailedEvent[] = [];
    const notices: string[] = [];
    await followLiveTail(new CloudWatchLogsClient({ region: "eu-west-1" }), groups, {
      signal: new AbortController().signal,
      onEvent: (event) => events.push(event),
      onNotice: (text) => notices.push(text),
    });
    expect(logs.commandCalls(StartLiveTailCommand)[0]?.args[0].input).toEqual({
      logGroupIdentifiers: [...groups.keys()],
    });
    expect(notices).toEqual(["Tailing 2 log groups (Ctrl-C stops)."]);
    expect(events.map(formatTailedEvent)).toEqual([
      '10:00:00.500 subscriber  INFO  Delivered {"delivered":3}',
      '10:00:00.600 api         {"routeKey":"$connect","status":"200"}',
    ]);
  });

  it("starts a new session when one times out", async () => {
    logs
      .on(StartLiveTailCommand)
      .resolvesOnce({
        responseStream: stream({
          SessionTimeoutException: {
            name: "SessionTimeoutException",
            $fault: "client",
            $metadata: {},
          } as never,
        }),
      })
      .resolvesOnce({ responseStream: stream() });
    const notices: string[] = [];
    await followLiveTail(
      new CloudWatchLogsClient({ region: "eu-west-1" }),
      logGroupArns(dev, ["api"]),
      {
        signal: new AbortController().signal,
        onEvent: () => {},
        onNotice: (text) => notices.push(text),
      },
    );
    expect(logs.commandCalls(StartLiveTailCommand)).toHaveLength(2);
    expect(notices).toContain("The Live Tail session timed out; starting a new one.");
  });

  it("says which permission is missing when access is denied", async () => {
    logs
      .on(StartLiveTailCommand)
      .rejects(Object.assign(new Error("not authorized"), { name: "AccessDeniedException" }));
    await expect(
      followLiveTail(
        new CloudWatchLogsClient({ region: "eu-west-1" }),
        logGroupArns(dev, ["api"]),
        {
          signal: new AbortController().signal,
          onEvent: () => {},
          onNotice: () => {},
        },
      ),
    ).rejects.toThrow(/need logs:StartLiveTail/);
  });
});
