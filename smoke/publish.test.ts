import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { MESSAGE_ATTRIBUTES } from "../functions/contract.js";
import { ExpectedError } from "./errors.js";
import { publish, snsClientFor } from "./publish.js";
import { SAMPLE_DEV_OUTPUTS } from "./sample-outputs.js";

const dev = SAMPLE_DEV_OUTPUTS;

const sns = mockClient(SNSClient);
afterEach(() => sns.reset());

function failWith(name: string, message = "denied") {
  sns.on(PublishCommand).rejects(Object.assign(new Error(message), { name }));
}

describe("publish", () => {
  it("publishes the message as it is to the stage's topic", async () => {
    sns.on(PublishCommand).resolves({ MessageId: "m-1" });
    expect(await publish(dev, '{"hello":"world"}')).toBe("m-1");
    expect(sns.commandCalls(PublishCommand)[0]?.args[0].input).toEqual({
      TopicArn: dev.topicArn,
      Message: '{"hello":"world"}',
    });
  });

  it("addresses the message to the given connection ids with a String.Array attribute", async () => {
    sns.on(PublishCommand).resolves({ MessageId: "m-2" });
    await publish(dev, "hi", { connectionIds: ["L0SM9cOFvHcCIhw=", "b+/="] });
    expect(sns.commandCalls(PublishCommand)[0]?.args[0].input.MessageAttributes).toEqual({
      [MESSAGE_ATTRIBUTES.connectionIds]: {
        DataType: "String.Array",
        StringValue: '["L0SM9cOFvHcCIhw=","b+/="]',
      },
    });
  });

  it("says how to configure credentials when the chain finds none", async () => {
    failWith("CredentialsProviderError", "Could not load credentials from any providers");
    const attempt = publish(dev, "x");
    await expect(attempt).rejects.toBeInstanceOf(ExpectedError);
    await expect(attempt).rejects.toThrow(/No AWS credentials .* AWS_PROFILE/);
  });

  it("names the missing permission when publishing is denied", async () => {
    failWith("AuthorizationErrorException");
    await expect(publish(dev, "x")).rejects.toThrow(/need sns:Publish on it/);
  });
});

describe("snsClientFor", () => {
  it("points a local stage's client at its SNS stand-in with throwaway credentials", async () => {
    const client = snsClientFor({
      ...dev,
      stage: "local",
      endpoints: {
        s3: "http://127.0.0.1:3002",
        sns: "http://127.0.0.1:3003",
        lambda: "http://127.0.0.1:3004",
      },
    });
    const endpoint = await client.config.endpoint?.();
    expect(`${endpoint?.protocol}//${endpoint?.hostname}:${endpoint?.port}`).toBe(
      "http://127.0.0.1:3003",
    );
    expect(await client.config.credentials()).toMatchObject({ accessKeyId: "local" });
    client.destroy();
  });
});
