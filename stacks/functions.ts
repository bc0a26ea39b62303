import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group/index.js";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role/index.js";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy/index.js";
import { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function/index.js";
import { AssetType, TerraformAsset } from "cdktf";
import { Construct } from "constructs";
import {
  ARTIFACTS,
  type DeployedStage,
  ENV,
  type EnvName,
  FANOUT,
  FUNCTIONS,
  type FunctionName,
  resourceNames,
} from "../functions/contract.js";
import type { FunctionBundle } from "./bundle.js";
import {
  codeStatements,
  type PermissionTargets,
  policyDocument,
  runtimeStatements,
} from "./permissions.js";
import type { StageSettings } from "./stages.js";

/** Variables whose value is the same for every function of a stage. */
export type StageEnvName = Exclude<EnvName, typeof ENV.serviceName | typeof ENV.logLevel>;

export interface StageFunctionProps {
  readonly stage: DeployedStage;
  readonly fn: FunctionName;
  readonly bundle: FunctionBundle;
  readonly settings: StageSettings;
  /** The stage's value of every variable a function may read besides the logger's. */
  readonly environment: Readonly<Record<StageEnvName, string>>;
  readonly targets: PermissionTargets;
  /** Queue receiving the function's failed asynchronous invokes, if it is invoked that way. */
  readonly failureQueueArn?: string;
}

const LAMBDA_ASSUME_ROLE = JSON.stringify({
  Version: "2012-10-17",
  Statement: [
    { Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" },
  ],
});

/**
 * One Lambda function from its bundle zip, with its log group and a role of two inline
 * policies: `code` grants exactly what the function's code calls (from the contract), `runtime`
 * what the Lambda service does on its behalf (logs, failure destination).
 */
export class StageFunction extends Construct {
  readonly function: LambdaFunction;
  readonly role: IamRole;

  constructor(scope: Construct, id: string, props: StageFunctionProps) {
    super(scope, id);
    const names = resourceNames(props.stage);
    const spec = FUNCTIONS[props.fn];

    const logGroup = new CloudwatchLogGroup(this, "logs", {
      name: names.functionLogGroup(props.fn),
      retentionInDays: props.settings.logRetentionDays,
    });
    this.role = new IamRole(this, "role", {
      name: names.functionRole(props.fn),
      assumeRolePolicy: LAMBDA_ASSUME_ROLE,
    });
    const codePolicy = new IamRolePolicy(this, "code-policy", {
      name: "code",
      role: this.role.id,
      policy: policyDocument(codeStatements(props.fn, props.targets)),
    });
    const runtimePolicy = new IamRolePolicy(this, "runtime-policy", {
      name: "runtime",
      role: this.role.id,
      policy: policyDocument(
        runtimeStatements({
          logGroupArn: logGroup.arn,
          ...(props.failureQueueArn === undefined
            ? {}
            : { failureQueueArn: props.failureQueueArn }),
        }),
      ),
    });
    const code = new TerraformAsset(this, "code", {
      path: props.bundle.zip,
      type: AssetType.FILE,
      assetHash: Buffer.from(props.bundle.sha256Base64, "base64").toString("hex"),
    });
    const variables: Record<string, string> = {
      [ENV.serviceName]: names.functionName(props.fn),
      [ENV.logLevel]: props.settings.logLevel,
    };
    for (const name of spec.env) {
      if (name !== ENV.serviceName && name !== ENV.logLevel)
        variables[name] = props.environment[name];
    }

    this.function = new LambdaFunction(this, "function", {
      functionName: names.functionName(props.fn),
      description: spec.description,
      role: this.role.arn,
      filename: code.path,
      sourceCodeHash: props.bundle.sha256Base64,
      handler: ARTIFACTS.handler,
      runtime: ARTIFACTS.runtime,
      architectures: [ARTIFACTS.architecture],
      memorySize: props.settings.memoryMb,
      // A shard posts for about connections / budget seconds: the worker gets Lambda's maximum.
      timeout: spec.shardWorker ? FANOUT.workerTimeoutSeconds : props.settings.timeoutSeconds,
      environment: { variables },
      loggingConfig: { logFormat: "JSON", logGroup: logGroup.name },
      // The log group must exist first, or Lambda creates one without retention.
      dependsOn: [logGroup, codePolicy, runtimePolicy],
    });
  }
}
