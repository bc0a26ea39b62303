import { describe, expect, it } from "vitest";
import { ENV } from "../contract.js";
import { functionEnvironment } from "../fixtures/events.js";
import { ConfigurationError, readConfig } from "./config.js";

const FANOUT = ["connectionsBucket", "connectionsPrefix", "managementEndpoint"] as const;

describe("readConfig", () => {
  it("returns the values a function declares, keyed by their contract names", () => {
    const env = functionEnvironment("message");

    expect(readConfig("message", FANOUT, env)).toEqual({
      connectionsBucket: env[ENV.connectionsBucket],
      connectionsPrefix: env[ENV.connectionsPrefix],
      managementEndpoint: env[ENV.managementEndpoint],
    });
  });

  it("names every missing variable at once", () => {
    const read = () => readConfig("subscriber", FANOUT, { [ENV.connectionsPrefix]: "c/" });

    expect(read).toThrow(ConfigurationError);
    expect(read).toThrow(
      `${ENV.connectionsBucket} is not set; ${ENV.managementEndpoint} is not set`,
    );
  });

  it("reads the topic ARN and rejects a value that is not an SNS topic ARN", () => {
    const env = functionEnvironment("subscriber");
    expect(readConfig("subscriber", ["topicArn"], env)).toEqual({
      topicArn: env[ENV.topicArn],
    });
    expect(() =>
      readConfig("subscriber", ["topicArn"], { ...env, [ENV.topicArn]: "websocket-stages-dev" }),
    ).toThrow(`${ENV.topicArn} must be an SNS topic ARN (got "websocket-stages-dev")`);
  });

  it("treats an empty value as missing", () => {
    const env = { ...functionEnvironment("connect"), [ENV.connectionsBucket]: "" };
    expect(() => readConfig("connect", ["connectionsBucket"], env)).toThrow(/is not set/);
  });

  it("rejects a prefix that does not end in a slash", () => {
    const env = { ...functionEnvironment("connect"), [ENV.connectionsPrefix]: "connections" };
    expect(() => readConfig("connect", ["connectionsPrefix"], env)).toThrow(
      `${ENV.connectionsPrefix} must end in "/" (got "connections")`,
    );
  });

  it.each(["not a url", "wss://abc.execute-api.us-east-1.amazonaws.com/dev"])(
    "rejects the management endpoint %s",
    (value) => {
      const env = { ...functionEnvironment("message"), [ENV.managementEndpoint]: value };
      expect(() => readConfig("message", ["managementEndpoint"], env)).toThrow(
        /must be an http\(s\) URL/,
      );
    },
  );

  it("refuses to read a variable the contract does not give the function", () => {
    expect(() =>
      readConfig("connect", ["managementEndpoint"], functionEnvironment("message")),
    ).toThrow(/FUNCTIONS\.connect\.env/);
  });
});
