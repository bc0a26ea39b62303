import { describe, expect, it } from "vitest";
import { ENV, FUNCTION_NAMES, FUNCTIONS } from "../contract.js";
import { functionEnvironment } from "../fixtures/events.js";
import { ConfigurationError, readConfig } from "./config.js";

describe("readConfig", () => {
  it("returns the values a function declares, keyed by their contract names", () => {
    const env = functionEnvironment("connect");

    expect(readConfig("connect", env)).toEqual({
      connectionsBucket: env[ENV.connectionsBucket],
      connectionsPrefix: env[ENV.connectionsPrefix],
    });
  });

  it.each(FUNCTION_NAMES)("reads exactly the variables the contract lists for %s", (fn) => {
    const read: Readonly<Record<string, string>> = readConfig(fn, functionEnvironment(fn));
    const names = Object.keys(read).map((key) => ENV[key as keyof typeof ENV]);

    expect(names.sort()).toEqual([...FUNCTIONS[fn].env].sort());
  });

  it("reads nothing the contract does not give the function", () => {
    const env = { ...functionEnvironment("message"), [ENV.serviceName]: "connect" };

    expect(Object.keys(readConfig("connect", env)).sort()).toEqual([
      "connectionsBucket",
      "connectionsPrefix",
    ]);
  });

  it("names every missing variable at once", () => {
    const read = () =>
      readConfig("fanout", { [ENV.connectionsPrefix]: "c/", [ENV.topicArn]: "unused" });

    expect(read).toThrow(ConfigurationError);
    expect(read).toThrow(
      `${ENV.connectionsBucket} is not set; ${ENV.managementEndpoint} is not set; ${ENV.topicArn} must be an SNS topic ARN`,
    );
  });

  it("reads the topic ARN and rejects a value that is not an SNS topic ARN", () => {
    const env = functionEnvironment("subscriber");
    expect(readConfig("subscriber", env).topicArn).toBe(env[ENV.topicArn]);
    expect(() =>
      readConfig("subscriber", { ...env, [ENV.topicArn]: "websocket-stages-dev" }),
    ).toThrow(`${ENV.topicArn} must be an SNS topic ARN (got "websocket-stages-dev")`);
  });

  it("treats an empty value as missing", () => {
    const env = { ...functionEnvironment("connect"), [ENV.connectionsBucket]: "" };
    expect(() => readConfig("connect", env)).toThrow(`${ENV.connectionsBucket} is not set`);
  });

  it("rejects a prefix that does not end in a slash", () => {
    const env = { ...functionEnvironment("connect"), [ENV.connectionsPrefix]: "connections" };
    expect(() => readConfig("connect", env)).toThrow(
      `${ENV.connectionsPrefix} must end in "/" (got "connections")`,
    );
  });

  it.each(["not a url", "wss://abc.execute-api.us-east-1.amazonaws.com/dev"])(
    "rejects the management endpoint %s",
    (value) => {
      const env = { ...functionEnvironment("message"), [ENV.managementEndpoint]: value };
      expect(() => readConfig("message", env)).toThrow(
        `${ENV.managementEndpoint} must be an http(s) URL (got ${JSON.stringify(value)})`,
      );
    },
  );
});
