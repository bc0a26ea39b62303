import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Testing } from "cdktf";
import { afterAll, describe, expect, it } from "vitest";
import { DEPLOYED_STAGES } from "../../functions/contract.js";
import type { PolicyStatement } from "../permissions.js";
import { GITHUB_OIDC, oidcSubjects, pipelineRoleName } from "../pipeline.js";
import { accountsOfStages } from "./accounts.js";
import { BootstrapStack, stateBucketName } from "./bootstrap-stack.js";

const ACCOUNT = "111122223333";
const REPOSITORY = "acme/chat";

type Resource = Record<string, unknown>;
interface Json {
  provider: { aws: Resource[] };
  resource: Record<string, Record<string, Resource>>;
  output: Record<string, { value: unknown }>;
}

// Testing.app() leaves temp folders behind: keep them in one this file removes.
const scratch = mkdtempSync(join(tmpdir(), "websocket-stages-bootstrap-"));
const previousTmp = process.env.TMPDIR;
process.env.TMPDIR = scratch;
afterAll(() => {
  if (previousTmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = previousTmp;
  rmSync(scratch, { recursive: true, force: true });
});

function synth(oidcProviderArn?: string): Json {
  const app = Testing.app();
  const stack = new BootstrapStack(app, "bootstrap", {
    account: ACCOUNT,
    repository: REPOSITORY,
    stages: DEPLOYED_STAGES,
    region: "eu-west-1",
    localStatePath: "bootstrap.tfstate",
    noncurrentVersionDays: 30,
    ...(oidcProviderArn === undefined ? {} : { oidcProviderArn }),
  });
  return JSON.parse(Testing.synth(stack)) as Json;
}

const json = synth();
const only = (type: string): Resource => {
  const all = Object.values(json.resource[type] ?? {});
  expect(all, type).toHaveLength(1);
  return all[0] as Resource;
};
const roles = Object.values(json.resource.aws_iam_role ?? {});
const rolePolicies = Object.values(json.resource.aws_iam_role_policy ?? {});

describe("the bootstrap stack's state bucket", () => {
  it("is named for the account and region, versioned, encrypted and private", () => {
    expect(only("aws_s3_bucket").bucket).toBe(stateBucketName(ACCOUNT, "eu-west-1"));
    expect(only("aws_s3_bucket_versioning").versioning_configuration).toEqual({
      status: "Enabled",
    });
    expect(only("aws_s3_bucket_server_side_encryption_configuration").rule).toEqual([
      { apply_server_side_encryption_by_default: { sse_algorithm: "AES256" } },
    ]);
    expect(only("aws_s3_bucket_public_access_block")).toMatchObject({
      block_public_acls: true,
      block_public_policy: true,
      ignore_public_acls: true,
      restrict_public_buckets: true,
    });
    expect(only("aws_s3_bucket_ownership_controls").rule).toEqual({
      object_ownership: "BucketOwnerEnforced",
    });
  });

  it("refuses plain HTTP and expires replaced state versions after the configured days", () => {
    const policy = JSON.parse(only("aws_s3_bucket_policy").policy as string) as {
      Statement: PolicyStatement[];
    };
    expect(policy.Statement).toEqual([
      expect.objectContaining({
        Effect: "Deny",
        Action: "s3:*",
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      }),
    ]);
    const [rule] = only("aws_s3_bucket_lifecycle_configuration").rule as Resource[];
    expect(rule?.noncurrent_version_expiration).toEqual([{ noncurrent_days: 30 }]);
  });

  it("is applied only to the account it was built for", () => {
    expect(json.provider.aws[0]?.allowed_account_ids).toEqual([ACCOUNT]);
  });
});

describe("the GitHub OIDC provider", () => {
  it("is created with the audience the credentials action asks for", () => {
    expect(only("aws_iam_openid_connect_provider")).toMatchObject({
      url: GITHUB_OIDC.url,
      client_id_list: [GITHUB_OIDC.audience],
    });
  });

  it("is referenced, not created, when the account already has one", () => {
    const arn = `arn:aws:iam::${ACCOUNT}:oidc-provider/${GITHUB_OIDC.host}`;
    const referenced = synth(arn);
    expect(referenced.resource.aws_iam_openid_connect_provider).toBeUndefined();
    const trust = JSON.parse(
      Object.values(referenced.resource.aws_iam_role ?? {})[0]?.assume_role_policy as string,
    ) as { Statement: { Principal: { Federated: string } }[] };
    expect(trust.Statement[0]?.Principal.Federated).toBe(arn);
  });
});

describe("the pipeline roles", () => {
  it("has a deploy and a plan role per stage, each trusting exactly its subjects and audience", () => {
    expect(roles).toHaveLength(DEPLOYED_STAGES.length * 2);
    for (const stage of DEPLOYED_STAGES) {
      for (const kind of ["deploy", "plan"] as const) {
        const role = roles.find((r) => r.name === pipelineRoleName(stage, kind));
        expect(role, `${stage} ${kind}`).toBeDefined();
        const trust = JSON.parse(role?.assume_role_policy as string) as {
          Statement: { Action: string; Condition: unknown }[];
        };
        expect(trust.Statement).toHaveLength(1);
        expect(trust.Statement[0]?.Action).toBe("sts:AssumeRoleWithWebIdentity");
        expect(trust.Statement[0]?.Condition).toEqual({
          StringEquals: {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": [...oidcSubjects(REPOSITORY, stage, kind)],
          },
        });
      }
    }
    // The exact strings, not only the helper's output.
    const prodDeploy = roles.find((r) => r.name === "websocket-stages-prod-deploy");
    expect(prodDeploy?.assume_role_policy).toContain('"repo:acme/chat:environment:prod"');
  });

  it("grants no wildcard action, and a * resource only to actions IAM authorizes on nothing narrower", async () => {
    const { isWildcardOnlyAction } = await import("@cloud-copilot/iam-simulate");
    expect(rolePolicies).toHaveLength(DEPLOYED_STAGES.length * 2);
    for (const rolePolicy of rolePolicies) {
      const { Statement } = JSON.parse(rolePolicy.policy as string) as {
        Statement: PolicyStatement[];
      };
      for (const statement of Statement) {
        const actions = [statement.Action].flat();
        for (const action of actions) expect(action).not.toMatch(/\*/);
        const resources = [statement.Resource].flat();
        if (resources.includes("*")) {
          for (const action of actions) {
            const [service = "", name = ""] = action.split(":");
            expect(await isWildcardOnlyAction(service, name), `${action} on *`).toBe(true);
          }
        }
      }
    }
  });

  it("outputs the role ARNs, the bucket and the regions", () => {
    expect(Object.keys(json.output).sort()).toEqual([
      "deployRoleArns",
      "oidcProviderArn",
      "planRoleArns",
      "regions",
      "stateBucket",
      "stateRegion",
    ]);
  });
});

describe("grouping stages by account", () => {
  it("puts every stage in the caller's account unless a stage names its own", () => {
    expect(accountsOfStages(ACCOUNT)).toEqual([
      { account: ACCOUNT, stages: ["dev", "staging", "prod"], region: "eu-west-1" },
    ]);
  });

  it("gives a stage with its own account a bootstrap of its own", async () => {
    const { STAGE_SETTINGS } = await import("../stages.js");
    const settings = {
      ...STAGE_SETTINGS,
      prod: { ...STAGE_SETTINGS.prod, account: "444455556666", region: "us-east-1" },
    };
    expect(accountsOfStages(ACCOUNT, settings)).toEqual([
      { account: ACCOUNT, stages: ["dev", "staging"], region: "eu-west-1" },
      { account: "444455556666", stages: ["prod"], region: "us-east-1" },
    ]);
  });
});
