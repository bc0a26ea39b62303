import { describe, expect, it } from "vitest";
import { stateKey } from "../../stacks/backend.js";
import { STAGE_SETTINGS, type StageSettings } from "../../stacks/stages.js";
import { locateStage, stepOutputs } from "./stage-location.js";

const dev = STAGE_SETTINGS.dev;
const inAccount = (account: string): StageSettings => ({ ...dev, account });
const ROLE = "arn:aws:iam::111122223333:role/websocket-stages-dev-deploy";
const BUCKET = { TF_STATE_BUCKET: "state" };

describe("locateStage", () => {
  it("takes the region from stacks/stages.ts, and the state region from TF_STATE_REGION if set", () => {
    const location = locateStage("dev", dev, {});
    expect(location).toMatchObject({ stage: "dev", region: dev.region, stateKey: stateKey("dev") });
    expect(location.stateRegion).toBe(dev.region);
    expect(locateStage("dev", dev, { TF_STATE_REGION: "us-east-2" }).stateRegion).toBe("us-east-2");
    expect(locateStage("dev", dev, { AWS_REGION: dev.region }).region).toBe(dev.region);
  });

  it("refuses an AWS_REGION that disagrees with the stage, naming both regions", () => {
    expect(() =>
      locateStage("dev", { ...dev, region: "eu-west-1" }, { AWS_REGION: "us-east-1" }),
    ).toThrow(/AWS_REGION is "us-east-1" but stacks\/stages\.ts puts dev in "eu-west-1"/);
  });

  it("refuses a role ARN from another account than the stage's, naming both accounts", () => {
    const env = { ...BUCKET, AWS_DEPLOY_ROLE_ARN: ROLE };
    expect(locateStage("dev", inAccount("111122223333"), env, { role: "deploy" }).role).toEqual({
      kind: "deploy",
      arn: ROLE,
    });
    expect(() => locateStage("dev", inAccount("999988887777"), env, { role: "deploy" })).toThrow(
      /account 111122223333 .* puts dev in account 999988887777/,
    );
  });

  it("reads the plan role of the stage from AWS_PLAN_ROLES", () => {
    const env = { ...BUCKET, AWS_PLAN_ROLES: JSON.stringify({ dev: ROLE }) };
    expect(locateStage("dev", dev, env, { role: "plan" }).role?.arn).toBe(ROLE);
    expect(() => locateStage("staging", STAGE_SETTINGS.staging, env, { role: "plan" })).toThrow(
      /no plan role for staging: set AWS_PLAN_ROLES \(repository, key "staging"\)/,
    );
    expect(
      locateStage("staging", STAGE_SETTINGS.staging, env, { role: "plan", optionalRole: true })
        .skipped,
    ).toMatch(/no plan role for staging/);
    expect(() =>
      locateStage("dev", dev, { ...BUCKET, AWS_PLAN_ROLES: "{dev:" }, { role: "plan" }),
    ).toThrow(/AWS_PLAN_ROLES is not JSON/);
  });

  it("wants a real role ARN and a state bucket before any role is used", () => {
    expect(() =>
      locateStage("dev", dev, { ...BUCKET, AWS_DEPLOY_ROLE_ARN: "deploy" }, { role: "deploy" }),
    ).toThrow(/not an IAM role ARN/);
    expect(() =>
      locateStage("dev", dev, { AWS_DEPLOY_ROLE_ARN: ROLE }, { role: "deploy" }),
    ).toThrow(/TF_STATE_BUCKET is not set/);
  });

  it("writes the job outputs the workflows read", () => {
    const outputs = stepOutputs(
      locateStage("dev", dev, { ...BUCKET, AWS_DEPLOY_ROLE_ARN: ROLE }, { role: "deploy" }),
    );
    expect(Object.keys(outputs).sort()).toEqual(
      ["account", "configured", "region", "role-arn", "stack", "state-key"].sort(),
    );
    expect(outputs).toMatchObject({ region: dev.region, "role-arn": ROLE, configured: "true" });
    const skipped = stepOutputs(locateStage("dev", dev, {}, { role: "plan", optionalRole: true }));
    expect(skipped).toMatchObject({ configured: "false", "role-arn": "" });
  });
});
