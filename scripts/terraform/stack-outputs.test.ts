import { describe, expect, it } from "vitest";
import { CONNECTIONS_PREFIX, type StageOutputs } from "../../functions/contract.js";
import { STAGE_SETTINGS } from "../../stacks/stages.js";
import { checkOutputs } from "./stack-outputs.js";

const region = STAGE_SETTINGS.dev.region;
const good: StageOutputs = {
  stage: "dev",
  region,
  websocketUrl: `wss://abc123.execute-api.${region}.amazonaws.com/dev`,
  managementEndpoint: `https://abc123.execute-api.${region}.amazonaws.com/dev`,
  topicArn: `arn:aws:sns:${region}:123456789012:websocket-stages-dev`,
  connectionsBucket: "websocket-stages-dev-2026",
  connectionsPrefix: CONNECTIONS_PREFIX,
};

describe("checkOutputs", () => {
  it("accepts outputs that fit the stage", () => {
    expect(checkOutputs("dev", good)).toEqual([]);
  });

  it("names each output that does not fit", () => {
    const problems = checkOutputs("dev", {
      ...good,
      websocketUrl: "wss://abc123.execute-api.eu-west-1.amazonaws.com/prod",
      managementEndpoint: "https://elsewhere/dev",
      connectionsPrefix: "other/",
    });
    expect(problems).toHaveLength(3);
    expect(problems.join("\n")).toMatch(/websocketUrl .* is not wss:\/\/<host>\/dev/);
    expect(problems.join("\n")).toMatch(/managementEndpoint/);
    expect(problems.join("\n")).toMatch(/connectionsPrefix is other\//);
  });
});
