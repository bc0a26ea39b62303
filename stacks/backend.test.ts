import { posix } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DEPLOYED_STAGES,
  PROJECT,
  STATE_BACKEND_ENV,
  STATE_DIR,
  SYNTH_DIR,
  stackName,
} from "../functions/contract.js";
import { backendJson, localStatePath, stateBackend } from "./backend.js";
import { STAGE_SETTINGS } from "./stages.js";
import { type Fixture, synthesizeFixture } from "./synthesized-fixture.js";

describe("stateBackend", () => {
  it("keeps state in the repository's state folder, by a relative path, without a state bucket", () => {
    expect(stateBackend("dev", "eu-west-1", {})).toEqual({
      type: "local",
      path: `../../../${STATE_DIR}/terraform/${stackName("dev")}.tfstate`,
    });
    expect(
      posix.normalize(posix.join(SYNTH_DIR, "stacks", stackName("dev"), localStatePath("dev"))),
    ).toBe(`${STATE_DIR}/terraform/${stackName("dev")}.tfstate`);
    expect(stateBackend("dev", "eu-west-1", { [STATE_BACKEND_ENV.bucket]: "" }).type).toBe("local");
  });

  it("uses one S3 key per stage with native locking, in the stage's region unless told otherwise", () => {
    const env = { [STATE_BACKEND_ENV.bucket]: "state-bucket" };
    expect(stateBackend("prod", "eu-west-1", env)).toEqual({
      type: "s3",
      bucket: "state-bucket",
      key: `${PROJECT}/${stackName("prod")}.tfstate`,
      region: "eu-west-1",
      encrypt: true,
      useLockfile: true,
    });
    expect(
      stateBackend("prod", "eu-west-1", { ...env, [STATE_BACKEND_ENV.region]: "us-east-2" }),
    ).toMatchObject({ type: "s3", region: "us-east-2" });
  });

  it("writes the S3 backend as Terraform spells it", () => {
    const backend = stateBackend("dev", "eu-west-1", { [STATE_BACKEND_ENV.bucket]: "b" });
    expect(backendJson(backend)).toEqual({
      s3: {
        bucket: "b",
        key: `${PROJECT}/${stackName("dev")}.tfstate`,
        region: "eu-west-1",
        encrypt: true,
        use_lockfile: true,
      },
    });
  });
});

describe("stacks synthesized with a state bucket", () => {
  let fixture: Fixture;
  beforeAll(() => {
    fixture = synthesizeFixture({ [STATE_BACKEND_ENV.bucket]: "team-state" });
  });
  afterAll(() => fixture.remove());

  it("keep each stage's state under its own key with S3 locking", () => {
    for (const stage of DEPLOYED_STAGES) {
      expect(fixture.stacks[stage].json.terraform.backend).toEqual({
        s3: {
          bucket: "team-state",
          key: `${PROJECT}/${stackName(stage)}.tfstate`,
          region: STAGE_SETTINGS[stage].region,
          encrypt: true,
          use_lockfile: true,
        },
      });
    }
  });
});
