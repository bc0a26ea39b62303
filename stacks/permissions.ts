import {
  type DeployedStage,
  FUNCTIONS,
  type FunctionName,
  type Permission,
} from "../functions/contract.js";

/** One IAM policy statement, in the shape IAM's JSON takes. */
export interface PolicyStatement {
  readonly Effect: "Allow" | "Deny";
  readonly Action: string | readonly string[];
  readonly Resource: string | readonly string[];
  readonly Condition?: Readonly<
    Record<string, Readonly<Record<string, string | readonly string[]>>>
  >;
  readonly Sid?: string;
  readonly Principal?: unknown;
}

/** The concrete ARNs behind the contract's resource names, for one stage. */
export interface PermissionTargets {
  readonly stage: DeployedStage;
  readonly bucketArn: string;
  readonly prefix: string;
  /** execute-api ARN of the WebSocket API (`arn:aws:execute-api:{region}:{account}:{api-id}`). */
  readonly executionArn: string;
  /** ARN of the stage's SNS topic. */
  readonly topicArn: string;
  /** ARN of the stage's fan-out worker function. */
  readonly fanoutFunctionArn: string;
}

/**
 * Each contract resource name resolved to the narrowest IAM form:
 * - registry-objects: only keys under the prefix;
 * - registry-bucket: the bucket, listing allowed only under the prefix;
 * - connections: POST @connections on this API's stage — PostToConnection is the only
 *   Management API call the functions make (ManageConnections also covers GET and DELETE,
 *   which the method segment of the ARN excludes);
 * - stage-topic: the stage's own topic, where undelivered connections are handed on;
 * - fanout-function: the stage's own fan-out worker (its unqualified ARN: $LATEST).
 */
function statementFor(permission: Permission, targets: PermissionTargets): PolicyStatement {
  switch (permission.resource) {
    case "registry-objects":
      return {
        Effect: "Allow",
        Action: permission.action,
        Resource: `${targets.bucketArn}/${targets.prefix}*`,
      };
    case "registry-bucket":
      return {
        Effect: "Allow",
        Action: permission.action,
        Resource: targets.bucketArn,
        Condition: { StringLike: { "s3:prefix": [`${targets.prefix}*`] } },
      };
    case "connections":
      return {
        Effect: "Allow",
        Action: permission.action,
        Resource: `${targets.executionArn}/${targets.stage}/POST/@connections/*`,
      };
    case "stage-topic":
      return { Effect: "Allow", Action: permission.action, Resource: targets.topicArn };
    case "fanout-function":
      return { Effect: "Allow", Action: permission.action, Resource: targets.fanoutFunctionArn };
  }
}

/** The statements granting exactly what a function's code calls (FUNCTIONS[fn].permissions). */
export function codeStatements(fn: FunctionName, targets: PermissionTargets): PolicyStatement[] {
  return FUNCTIONS[fn].permissions.map((permission) => statementFor(permission, targets));
}

/**
 * What the Lambda service itself does with a function's role, beyond the function's code:
 * write its log group, and (for asynchronously invoked functions: the subscriber, the fan-out
 * worker) send failed events to their on-failure queue.
 */
export function runtimeStatements(options: {
  readonly logGroupArn: string;
  readonly failureQueueArn?: string;
}): PolicyStatement[] {
  const statements: PolicyStatement[] = [
    {
      Effect: "Allow",
      Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
      Resource: `${options.logGroupArn}:*`,
    },
  ];
  if (options.failureQueueArn !== undefined) {
    statements.push({
      Effect: "Allow",
      Action: "sqs:SendMessage",
      Resource: options.failureQueueArn,
    });
  }
  return statements;
}

export function policyDocument(statements: readonly PolicyStatement[]): string {
  return JSON.stringify({ Version: "2012-10-17", Statement: statements });
}
