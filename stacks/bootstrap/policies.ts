import { type DeployedStage, FUNCTION_NAMES, resourceNames } from "../../functions/contract.js";
import {
  API_GATEWAY_CLOUDWATCH_POLICY_ARN,
  API_GATEWAY_CLOUDWATCH_ROLE,
} from "../api-gateway-account.js";
import { lockKey, stateKey } from "../backend.js";
import type { PolicyStatement } from "../permissions.js";
import { GITHUB_OIDC, oidcSubjects, type PipelineRoleKind } from "../pipeline.js";
import { PASS_ROLE_ACTION, STAGE_ACTIONS, type StageResourceKind } from "./actions.js";

/** Where Terraform's S3 backend keeps non-default workspaces; `init` lists it. */
const WORKSPACE_PREFIX = "env:/";

/** Where a stage's pipeline roles act: its account, region and the account's state bucket. */
export interface StageTarget {
  readonly stage: DeployedStage;
  readonly account: string;
  readonly region: string;
  readonly stateBucket: string;
  /** Whether the stage's stack manages the account's API Gateway CloudWatch role. */
  readonly ownsApiGatewayAccountRole: boolean;
}

/** Every ARN of each kind of resource the stage's stack manages, from the stack's own naming. */
export function stageResources(target: StageTarget): Record<StageResourceKind, string[]> {
  const { account, region, stateBucket } = target;
  const names = resourceNames(target.stage);
  const owns = target.ownsApiGatewayAccountRole;
  const logGroup = (name: string) => [
    `arn:aws:logs:${region}:${account}:log-group:${name}`,
    `arn:aws:logs:${region}:${account}:log-group:${name}:*`,
  ];
  return {
    functionRoles: FUNCTION_NAMES.map(
      (fn) => `arn:aws:iam::${account}:role/${names.functionRole(fn)}`,
    ),
    apiGatewayAccountRole: owns
      ? [`arn:aws:iam::${account}:role/${API_GATEWAY_CLOUDWATCH_ROLE}`]
      : [],
    apiGatewayAccount: owns ? [`arn:aws:apigateway:${region}::/account`] : [],
    apiCollection: [`arn:aws:apigateway:${region}::/apis`],
    apis: [`arn:aws:apigateway:${region}::/apis/*`],
    functions: FUNCTION_NAMES.map(
      (fn) => `arn:aws:lambda:${region}:${account}:function:${names.functionName(fn)}`,
    ),
    logGroups: [
      ...FUNCTION_NAMES.flatMap((fn) => logGroup(names.functionLogGroup(fn))),
      ...logGroup(names.accessLogGroup),
    ],
    logGroupListing: ["*"],
    registryBucket: [`arn:aws:s3:::${names.registryBucketPrefix}*`],
    registryObjects: [`arn:aws:s3:::${names.registryBucketPrefix}*/*`],
    topic: [`arn:aws:sns:${region}:${account}:${names.topic}`],
    smokeTest: [`arn:aws:sns:${region}:${account}:${names.topic}`],
    failureQueue: [names.failureQueue, names.fanoutFailureQueue].map(
      (queue) => `arn:aws:sqs:${region}:${account}:${queue}`,
    ),
    alarms: [
      ...FUNCTION_NAMES.map((fn) => names.functionErrorsAlarm(fn)),
      names.undeliveredAlarm,
      names.fanoutFailedAlarm,
      names.fanoutUndeliveredAlarm,
    ].map((name) => `arn:aws:cloudwatch:${region}:${account}:alarm:${name}`),
    stateBucket: [`arn:aws:s3:::${stateBucket}`],
    stateObject: [`arn:aws:s3:::${stateBucket}/${stateKey(target.stage)}`],
    lockObject: [`arn:aws:s3:::${stateBucket}/${lockKey(target.stage)}`],
  };
}

/** Conditions narrowing a kind further than its ARNs can. */
function conditionFor(
  kind: StageResourceKind,
  target: StageTarget,
  actions: readonly string[],
): PolicyStatement["Condition"] {
  if (kind === "stateBucket") {
    // The backend lists the bucket only for workspaces (`env:/`) and its own state and lock.
    return { StringLike: { "s3:prefix": [WORKSPACE_PREFIX, `${stateKey(target.stage)}*`] } };
  }
  if (
    kind === "apiGatewayAccountRole" &&
    actions.some((action) => action === "iam:AttachRolePolicy" || action === "iam:DetachRolePolicy")
  ) {
    return { ArnEquals: { "iam:PolicyARN": API_GATEWAY_CLOUDWATCH_POLICY_ARN } };
  }
  return undefined;
}

function sid(kind: string, access: string): string {
  return `${access}${kind.charAt(0).toUpperCase()}${kind.slice(1)}`;
}

function statements(target: StageTarget, access: "read" | "write"): PolicyStatement[] {
  const resources = stageResources(target);
  const result: PolicyStatement[] = [];
  for (const kind of Object.keys(STAGE_ACTIONS) as StageResourceKind[]) {
    const arns = resources[kind];
    const entry = STAGE_ACTIONS[kind];
    const actions: readonly string[] =
      access === "read" ? entry.read : [...entry.read, ...entry.write];
    if (arns.length === 0 || actions.length === 0) continue;
    // The attach/detach grant carries a condition the role's other actions must not.
    const conditioned: readonly string[] =
      kind === "apiGatewayAccountRole" ? entry.write.filter((a) => a.endsWith("RolePolicy")) : [];
    const plain = actions.filter((action) => !conditioned.includes(action));
    if (plain.length > 0) {
      const condition = conditionFor(kind, target, plain);
      result.push({
        Sid: sid(kind, access === "read" ? "Read" : "Manage"),
        Effect: "Allow",
        Action: [...plain].sort(),
        Resource: arns,
        ...(condition === undefined ? {} : { Condition: condition }),
      });
    }
    if (conditioned.length > 0 && access === "write") {
      result.push({
        Sid: sid(kind, "Policy"),
        Effect: "Allow",
        Action: [...conditioned].sort(),
        Resource: arns,
        Condition: conditionFor(kind, target, conditioned) ?? {},
      });
    }
  }
  return result;
}

/** Plan role: read the stage's resources and its state (no lock: plans run with -lock=false). */
export function planStatements(target: StageTarget): PolicyStatement[] {
  return statements(target, "read");
}

/**
 * Deploy role: everything applying, updating and destroying the stage's stack calls, on the
 * stage's resources, plus its state and lock objects; roles passed only to the service that
 * uses them.
 */
export function deployStatements(target: StageTarget): PolicyStatement[] {
  const resources = stageResources(target);
  const passRole: PolicyStatement[] = [
    {
      Sid: "PassFunctionRolesToLambda",
      Effect: "Allow",
      Action: PASS_ROLE_ACTION,
      Resource: resources.functionRoles,
      Condition: { StringEquals: { "iam:PassedToService": "lambda.amazonaws.com" } },
    },
  ];
  if (target.ownsApiGatewayAccountRole) {
    passRole.push({
      Sid: "PassAccountRoleToApiGateway",
      Effect: "Allow",
      Action: PASS_ROLE_ACTION,
      Resource: resources.apiGatewayAccountRole,
      Condition: { StringEquals: { "iam:PassedToService": "apigateway.amazonaws.com" } },
    });
  }
  return [...statements(target, "write"), ...passRole];
}

export function pipelineStatements(target: StageTarget, kind: PipelineRoleKind): PolicyStatement[] {
  return kind === "deploy" ? deployStatements(target) : planStatements(target);
}

export interface TrustPolicy {
  readonly Version: "2012-10-17";
  readonly Statement: readonly {
    readonly Effect: "Allow";
    readonly Principal: { readonly Federated: string };
    readonly Action: "sts:AssumeRoleWithWebIdentity";
    readonly Condition: { readonly StringEquals: Readonly<Record<string, string | string[]>> };
  }[];
}

/** Trust: only this repository's tokens, only the subjects the workflows present for the role. */
export function trustPolicy(
  oidcProviderArn: string,
  repository: string,
  stage: DeployedStage,
  kind: PipelineRoleKind,
): TrustPolicy {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Federated: oidcProviderArn },
        Action: "sts:AssumeRoleWithWebIdentity",
        Condition: {
          StringEquals: {
            [`${GITHUB_OIDC.host}:aud`]: GITHUB_OIDC.audience,
            [`${GITHUB_OIDC.host}:sub`]: [...oidcSubjects(repository, stage, kind)],
          },
        },
      },
    ],
  };
}
