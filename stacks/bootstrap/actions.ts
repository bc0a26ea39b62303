/**
 * The one table of IAM actions the pipeline roles get, per kind of resource a stage's stack
 * manages. `read` is what a plan needs (the plan role gets only these); `write` is what applying,
 * updating and destroying adds (the deploy role gets both). Every entry is a call Terraform was
 * recorded making (stacks/bootstrap/fixtures/dev-calls.json, `npm run bootstrap:calls`); the
 * simulation tests prove the roles built from this table allow exactly those calls.
 */
export interface ResourceActions {
  readonly read: readonly string[];
  readonly write: readonly string[];
}

const ROLE_READS = [
  "iam:GetRole",
  "iam:GetRolePolicy",
  "iam:ListAttachedRolePolicies",
  "iam:ListInstanceProfilesForRole",
  "iam:ListRolePolicies",
] as const;

export const STAGE_ACTIONS = {
  /** The functions' execution roles (exact names, never a pattern: the pipeline roles share the
   * stage's name prefix and must not be able to edit themselves). */
  functionRoles: {
    read: ROLE_READS,
    write: ["iam:CreateRole", "iam:DeleteRole", "iam:DeleteRolePolicy", "iam:PutRolePolicy"],
  },
  /** The account's API Gateway CloudWatch role, for the stage that owns it. */
  apiGatewayAccountRole: {
    read: ROLE_READS,
    write: ["iam:AttachRolePolicy", "iam:CreateRole", "iam:DeleteRole", "iam:DetachRolePolicy"],
  },
  /** API Gateway's account settings (the CloudWatch role), for the stage that owns them. */
  apiGatewayAccount: { read: ["apigateway:GET"], write: ["apigateway:PATCH"] },
  /** `/apis`: creating an API. */
  apiCollection: { read: [], write: ["apigateway:POST"] },
  /** `/apis/*`: the API, its routes, integrations and stage (ids AWS assigns at creation). */
  apis: {
    read: ["apigateway:GET"],
    write: ["apigateway:DELETE", "apigateway:PATCH", "apigateway:POST"],
  },
  functions: {
    read: [
      "lambda:GetFunction",
      "lambda:GetFunctionCodeSigningConfig",
      "lambda:GetFunctionEventInvokeConfig",
      "lambda:GetPolicy",
      "lambda:ListVersionsByFunction",
    ],
    write: [
      "lambda:AddPermission",
      "lambda:CreateFunction",
      "lambda:DeleteFunction",
      "lambda:DeleteFunctionEventInvokeConfig",
      "lambda:PutFunctionEventInvokeConfig",
      "lambda:RemovePermission",
      "lambda:UpdateFunctionCode",
      "lambda:UpdateFunctionConfiguration",
    ],
  },
  logGroups: {
    read: ["logs:ListTagsForResource"],
    write: ["logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy"],
  },
  /** DescribeLogGroups authorizes against no resource: IAM accepts only `*` for it. */
  logGroupListing: { read: ["logs:DescribeLogGroups"], write: [] },
  registryBucket: {
    read: [
      "s3:GetAccelerateConfiguration",
      "s3:GetBucketAcl",
      "s3:GetBucketCORS",
      "s3:GetBucketLogging",
      "s3:GetBucketObjectLockConfiguration",
      "s3:GetBucketOwnershipControls",
      "s3:GetBucketPolicy",
      "s3:GetBucketPublicAccessBlock",
      "s3:GetBucketRequestPayment",
      "s3:GetBucketTagging",
      "s3:GetBucketVersioning",
      "s3:GetBucketWebsite",
      "s3:GetEncryptionConfiguration",
      "s3:GetLifecycleConfiguration",
      "s3:GetReplicationConfiguration",
      "s3:ListBucket",
    ],
    write: [
      "s3:CreateBucket",
      "s3:DeleteBucket",
      "s3:DeleteBucketPolicy",
      "s3:ListBucketVersions",
      "s3:PutBucketOwnershipControls",
      "s3:PutBucketPolicy",
      "s3:PutBucketPublicAccessBlock",
      "s3:PutBucketTagging",
      "s3:PutEncryptionConfiguration",
      "s3:PutLifecycleConfiguration",
    ],
  },
  /** Emptying the registry on destroy (force_destroy): connection objects left behind. */
  registryObjects: { read: [], write: ["s3:DeleteObject", "s3:DeleteObjectVersion"] },
  topic: {
    read: [
      "sns:GetSubscriptionAttributes",
      "sns:GetTopicAttributes",
      "sns:ListSubscriptionsByTopic",
      "sns:ListTagsForResource",
    ],
    write: [
      "sns:CreateTopic",
      "sns:DeleteTopic",
      "sns:SetTopicAttributes",
      "sns:Subscribe",
      "sns:Unsubscribe",
    ],
  },
  /** Not Terraform: the deploy job's smoke test publishes to the stage's topic. */
  smokeTest: { read: [], write: ["sns:Publish"] },
  failureQueue: {
    read: ["sqs:GetQueueAttributes", "sqs:ListQueueTags"],
    write: ["sqs:CreateQueue", "sqs:DeleteQueue"],
  },
  alarms: {
    read: ["cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource"],
    write: ["cloudwatch:DeleteAlarms", "cloudwatch:PutMetricAlarm"],
  },
  /** The state bucket: listing only the stage's own key. */
  stateBucket: { read: ["s3:ListBucket"], write: [] },
  stateObject: { read: ["s3:GetObject"], write: ["s3:PutObject"] },
  /** S3-native lock: only applies lock (plans run with -lock=false). */
  lockObject: { read: [], write: ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"] },
} as const satisfies Record<string, ResourceActions>;

export type StageResourceKind = keyof typeof STAGE_ACTIONS;

/** Passing roles: to Lambda (function roles), to API Gateway (its account role). */
export const PASS_ROLE_ACTION = "iam:PassRole";
