import type { StageOutputs } from "../functions/contract.js";

/** For tests: the outputs of a deployed dev stage, shaped as `npm run outputs -- dev --json` prints them. */
export const SAMPLE_DEV_OUTPUTS: StageOutputs = {
  stage: "dev",
  region: "eu-west-1",
  websocketUrl: "wss://abc123.execute-api.eu-west-1.amazonaws.com/dev",
  managementEndpoint: "https://abc123.execute-api.eu-west-1.amazonaws.com/dev",
  topicArn: "arn:aws:sns:eu-west-1:123456789012:websocket-stages-dev",
  connectionsBucket: "websocket-stages-dev-connections",
  connectionsPrefix: "connections/",
};
