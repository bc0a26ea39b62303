import { PROJECT } from "../../functions/contract.js";
import type { RecordedCall } from "../../stacks/bootstrap/recorded-calls.js";
import type { LoggedCall } from "./provider-log.js";

/**
 * Turns the API requests Terraform logged into what IAM authorizes: an action and the ARN of the
 * resource it acts on (plus the request context a policy's conditions read). Resources are kept
 * as templates — `{account}`, `{region}`, `{stage}` and placeholders for identifiers AWS assigns
 * at creation — so one recording serves every stage and stays comparable between recordings.
 */

/** Where the recording ran: the values the templates replace. */
export interface RecordingTarget {
  readonly account: string;
  readonly region: string;
  readonly stage: string;
  readonly stateBucket: string;
}

/** IAM's service prefix for each service name the AWS SDK for Go logs. */
const SERVICE_PREFIX: Readonly<Record<string, string>> = {
  IAM: "iam",
  "CloudWatch Logs": "logs",
  CloudWatch: "cloudwatch",
  SNS: "sns",
  SQS: "sqs",
  Lambda: "lambda",
  S3: "s3",
  ApiGatewayV2: "apigateway",
  "API Gateway": "apigateway",
  STS: "sts",
};

/** S3 operations whose IAM action has another name (service authorization reference). */
const S3_ACTION: Readonly<Record<string, string>> = {
  HeadBucket: "ListBucket",
  ListObjects: "ListBucket",
  ListObjectsV2: "ListBucket",
  ListObjectVersions: "ListBucketVersions",
  HeadObject: "GetObject",
  GetBucketCors: "GetBucketCORS",
  GetBucketLifecycleConfiguration: "GetLifecycleConfiguration",
  PutBucketLifecycleConfiguration: "PutLifecycleConfiguration",
  DeleteBucketLifecycle: "PutLifecycleConfiguration",
  GetBucketEncryption: "GetEncryptionConfiguration",
  PutBucketEncryption: "PutEncryptionConfiguration",
  DeleteBucketEncryption: "PutEncryptionConfiguration",
  GetPublicAccessBlock: "GetBucketPublicAccessBlock",
  PutPublicAccessBlock: "PutBucketPublicAccessBlock",
  DeletePublicAccessBlock: "PutBucketPublicAccessBlock",
  DeleteBucketOwnershipControls: "PutBucketOwnershipControls",
  GetBucketAccelerateConfiguration: "GetAccelerateConfiguration",
  GetBucketReplication: "GetReplicationConfiguration",
  GetObjectLockConfiguration: "GetBucketObjectLockConfiguration",
  DeleteBucketTagging: "PutBucketTagging",
};

/** Calls IAM never authorizes: any caller may ask who it is. */
const UNAUTHORIZED_OPERATIONS = new Set(["STS GetCallerIdentity"]);

/** A request the mapping does not know: the recording must be taught it, not skip it. */
export class UnmappedCallError extends Error {
  override readonly name = "UnmappedCallError";
}

function formFields(body: string): URLSearchParams {
  return new URLSearchParams(body);
}

function jsonFields(body: string): Record<string, unknown> {
  if (body.trim() === "") return {};
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * A request parameter from a query-protocol (form) or JSON body. The provider cuts long bodies
 * (a zip upload) and appends "[truncated...]": then the field is read from the text as it is.
 */
function parameter(call: LoggedCall, name: string): string | undefined {
  if (call.body.trimStart().startsWith("{")) {
    const value = jsonFields(call.body.replace(/\n?\[truncated\.\.\.\]\s*$/, ""))[name];
    if (typeof value === "string") return value;
    const raw = new RegExp(`"${name}":"((?:[^"\\\\]|\\\\.)*)"`).exec(call.body)?.[1];
    return raw === undefined ? undefined : (JSON.parse(`"${raw}"`) as string);
  }
  return formFields(call.body).get(name) ?? undefined;
}

function required(call: LoggedCall, name: string): string {
  const value = parameter(call, name);
  if (value === undefined) {
    throw new UnmappedCallError(`${call.service} ${call.operation}: no ${name} in the request.`);
  }
  return value;
}

function pathOnly(path: string): string {
  return path.split("?")[0] ?? path;
}

interface Authorization {
  readonly action: string;
  readonly resource: string;
  readonly context?: Readonly<Record<string, string>>;
}

function iamCall(call: LoggedCall, target: RecordingTarget): Authorization[] {
  const action = `iam:${call.operation}`;
  if (call.operation === "GetPolicy" || call.operation === "GetPolicyVersion") {
    return [{ action, resource: required(call, "PolicyArn") }];
  }
  const role = `arn:aws:iam::${target.account}:role/${required(call, "RoleName")}`;
  if (call.operation === "AttachRolePolicy" || call.operation === "DetachRolePolicy") {
    return [{ action, resource: role, context: { "iam:PolicyARN": required(call, "PolicyArn") } }];
  }
  return [{ action, resource: role }];
}

function logsCall(call: LoggedCall, target: RecordingTarget): Authorization[] {
  const action = `logs:${call.operation}`;
  if (call.operation === "DescribeLogGroups") return [{ action, resource: "*" }];
  const arn = parameter(call, "resourceArn");
  if (arn !== undefined) return [{ action, resource: arn.replace(/:\*$/, "") }];
  const name = required(call, "logGroupName");
  return [
    { action, resource: `arn:aws:logs:${target.region}:${target.account}:log-group:${name}` },
  ];
}

function snsCall(call: LoggedCall, target: RecordingTarget): Authorization[] {
  const action = `sns:${call.operation}`;
  if (call.operation === "CreateTopic") {
    return [
      {
        action,
        resource: `arn:aws:sns:${target.region}:${target.account}:${required(call, "Name")}`,
      },
    ];
  }
  // IAM authorizes subscription calls against the subscription's topic.
  const subscription = parameter(call, "SubscriptionArn");
  if (subscription !== undefined) {
    return [{ action, resource: subscription.split(":").slice(0, 6).join(":") }];
  }
  return [{ action, resource: parameter(call, "ResourceArn") ?? required(call, "TopicArn") }];
}

function sqsCall(call: LoggedCall, target: RecordingTarget): Authorization[] {
  const name =
    call.operation === "CreateQueue"
      ? required(call, "QueueName")
      : (required(call, "QueueUrl").split("/").pop() ?? "");
  return [
    {
      action: `sqs:${call.operation}`,
      resource: `arn:aws:sqs:${target.region}:${target.account}:${name}`,
    },
  ];
}

function lambdaCall(call: LoggedCall, target: RecordingTarget): Authorization[] {
  const fromPath = /\/functions\/([^/?]+)/.exec(call.path)?.[1];
  const name = decodeURIComponent(fromPath ?? required(call, "FunctionName"))
    .split(":")
    .pop();
  const resource = `arn:aws:lambda:${target.region}:${target.account}:function:${name}`;
  const calls: Authorization[] = [{ action: `lambda:${call.operation}`, resource }];
  const role = parameter(call, "Role");
  if (role !== undefined) {
    // Giving a function a role passes the role to Lambda: IAM checks iam:PassRole too.
    calls.push({
      action: "iam:PassRole",
      resource: role,
      context: { "iam:PassedToService": "lambda.amazonaws.com" },
    });
  }
  return calls;
}

function s3Call(call: LoggedCall): Authorization[] {
  const path = pathOnly(call.path);
  const [bucket = "", ...key] = path.replace(/^\//, "").split("/");
  const query = new URLSearchParams(call.path.split("?")[1] ?? "");
  const action = `s3:${S3_ACTION[call.operation] ?? call.operation}`;
  if (call.operation === "DeleteObjects") {
    const objects = [...call.body.matchAll(/<Object>([\s\S]*?)<\/Object>/g)].map((m) => m[1] ?? "");
    return objects.flatMap((object) => {
      const objectKey = /<Key>([\s\S]*?)<\/Key>/.exec(object)?.[1] ?? "";
      const resource = `arn:aws:s3:::${bucket}/${objectKey}`;
      return /<VersionId>/.test(object)
        ? [{ action: "s3:DeleteObjectVersion", resource }]
        : [{ action: "s3:DeleteObject", resource }];
    });
  }
  if (key.length > 0) {
    const versioned = call.operation === "DeleteObject" && query.has("versionId");
    return [
      {
        action: versioned ? "s3:DeleteObjectVersion" : action,
        resource: `arn:aws:s3:::${bucket}/${decodeURIComponent(key.join("/"))}`,
      },
    ];
  }
  const prefix = query.get("prefix");
  return [
    {
      action,
      resource: `arn:aws:s3:::${bucket}`,
      ...(prefix === null ? {} : { context: { "s3:prefix": prefix } }),
    },
  ];
}

function apiGatewayCall(call: LoggedCall, target: RecordingTarget): Authorization[] {
  const path = pathOnly(call.path).replace(/^\/v2\//, "/");
  const calls: Authorization[] = [
    {
      action: `apigateway:${call.httpMethod}`,
      resource: `arn:aws:apigateway:${target.region}::${path}`,
    },
  ];
  const passed = /"cloudwatchRoleArn","value":"([^"]+)"/.exec(call.body)?.[1];
  if (passed !== undefined) {
    // Setting the account's CloudWatch role passes it to API Gateway.
    calls.push({
      action: "iam:PassRole",
      resource: passed,
      context: { "iam:PassedToService": "apigateway.amazonaws.com" },
    });
  }
  return calls;
}

function cloudwatchCall(call: LoggedCall, target: RecordingTarget): Authorization[] {
  const action = `cloudwatch:${call.operation}`;
  const alarm = (name: string) =>
    `arn:aws:cloudwatch:${target.region}:${target.account}:alarm:${name}`;
  const fields = call.body.trimStart().startsWith("{") ? undefined : formFields(call.body);
  const json = fields === undefined ? jsonFields(call.body) : {};
  const names = fields
    ? [...fields.entries()].filter(([k]) => /^AlarmNames\.member\.\d+$/.test(k)).map(([, v]) => v)
    : Array.isArray(json.AlarmNames)
      ? json.AlarmNames.filter((v): v is string => typeof v === "string")
      : [];
  const single = parameter(call, "AlarmName");
  const arn = parameter(call, "ResourceARN");
  const resources = [
    ...names.map(alarm),
    ...(single ? [alarm(single)] : []),
    ...(arn ? [arn] : []),
  ];
  if (resources.length === 0) {
    throw new UnmappedCallError(`CloudWatch ${call.operation}: no alarm named in the request.`);
  }
  return resources.map((resource) => ({ action, resource }));
}

function authorizations(call: LoggedCall, target: RecordingTarget): Authorization[] {
  switch (SERVICE_PREFIX[call.service]) {
    case "iam":
      return iamCall(call, target);
    case "logs":
      return logsCall(call, target);
    case "sns":
      return snsCall(call, target);
    case "sqs":
      return sqsCall(call, target);
    case "lambda":
      return lambdaCall(call, target);
    case "s3":
      return s3Call(call);
    case "apigateway":
      return apiGatewayCall(call, target);
    case "cloudwatch":
      return cloudwatchCall(call, target);
    default:
      throw new UnmappedCallError(
        `Terraform called ${call.service} ${call.operation}, a service the recording does not map to IAM yet: add it to scripts/bootstrap/iam-calls.ts.`,
      );
  }
}

/** Replaces the recording's concrete values and AWS-assigned identifiers with placeholders. */
export function templated(value: string, target: RecordingTarget): string {
  const stagePrefix = `${PROJECT}-${target.stage}`;
  return value
    .split(target.stateBucket)
    .join("{state-bucket}")
    .split(target.account)
    .join("{account}")
    .split(target.region)
    .join("{region}")
    .replace(new RegExp(`${stagePrefix}-\\d{20,}`, "g"), `${PROJECT}-{stage}-{suffix}`)
    .split(stagePrefix)
    .join(`${PROJECT}-{stage}`)
    .replace(new RegExp(`/stages/${target.stage}$`), "/stages/{stage}")
    .replace(/\/(apis|routes|integrations)\/[a-z0-9]+/g, "/$1/{$1-id}");
}

/** The IAM view of every logged call (calls IAM never authorizes left out), as templates. */
export function recordedCalls(
  calls: readonly LoggedCall[],
  phase: RecordedCall["phase"],
  target: RecordingTarget,
): RecordedCall[] {
  const result: RecordedCall[] = [];
  for (const call of calls) {
    if (UNAUTHORIZED_OPERATIONS.has(`${call.service} ${call.operation}`)) continue;
    for (const { action, resource, context } of authorizations(call, target)) {
      result.push({
        phase,
        operation: `${call.service} ${call.operation}`,
        action,
        resource: templated(resource, target),
        ...(context === undefined
          ? {}
          : {
              context: Object.fromEntries(
                Object.entries(context).map(([k, v]) => [k, templated(v, target)]),
              ),
            }),
      });
    }
  }
  return result;
}

/** One entry per distinct call, in a stable order (the fixture's form). */
export function distinctCalls(calls: readonly RecordedCall[]): RecordedCall[] {
  const byKey = new Map<string, RecordedCall>();
  for (const call of calls) byKey.set(callKey(call), call);
  return [...byKey.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, call]) => call);
}

export function callKey(call: RecordedCall): string {
  return JSON.stringify([
    call.phase,
    call.operation,
    call.action,
    call.resource,
    call.context ?? {},
  ]);
}

/** The recorded calls a fixture lacks (the ones its roles were never proven to allow). */
export function missingCalls(
  recorded: readonly RecordedCall[],
  fixture: readonly RecordedCall[],
): RecordedCall[] {
  const known = new Set(fixture.map(callKey));
  return distinctCalls(recorded).filter((call) => !known.has(callKey(call)));
}
