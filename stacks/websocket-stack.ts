import { ApiGatewayAccount } from "@cdktf/provider-aws/lib/api-gateway-account/index.js";
import { CloudwatchMetricAlarm } from "@cdktf/provider-aws/lib/cloudwatch-metric-alarm/index.js";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role/index.js";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment/index.js";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider/index.js";
import { LocalBackend, S3Backend, TerraformOutput, TerraformStack } from "cdktf";
import type { Construct } from "constructs";
import {
  CONNECTIONS_PREFIX,
  type DeployedStage,
  ENV,
  FUNCTION_NAMES,
  FUNCTIONS,
  type FunctionName,
  functionForRoute,
  PROJECT,
  resourceNames,
  SERVED_ROUTE_KEYS,
  type STACK_OUTPUTS,
} from "../functions/contract.js";
import { WebSocketApi } from "./api.js";
import { stateBackend } from "./backend.js";
import type { FunctionBundle } from "./bundle.js";
import { type StageEnvName, StageFunction } from "./functions.js";
import { RegistryBucket } from "./registry-bucket.js";
import type { StageSettings } from "./stages.js";
import { StageTopic } from "./topic.js";

/**
 * The provider versions the synthesized JSON accepts. The bindings were generated from 6.25 and
 * pin it exactly; every attribute this stack sets exists in 5.100 too (`npm run validate` checks
 * it against the 5.100.0 filesystem mirror), so both major versions are admitted.
 */
export const AWS_PROVIDER_CONSTRAINT = ">= 5.100.0, < 7.0.0";

export interface WebSocketStackProps {
  readonly stage: DeployedStage;
  readonly settings: StageSettings;
  readonly bundles: Readonly<Record<FunctionName, FunctionBundle>>;
  /** Consulted for the state backend settings; defaults to process.env. */
  readonly env?: NodeJS.ProcessEnv;
}

/** One deployed stage: API, functions and their roles, connection registry, topic. */
export class WebSocketStack extends TerraformStack {
  constructor(scope: Construct, id: string, props: WebSocketStackProps) {
    super(scope, id);
    const { stage, settings } = props;
    this.configureTerraform(props);

    const accountRole = settings.apiGatewayAccountRole ? this.apiGatewayAccountRole() : undefined;
    const api = new WebSocketApi(this, "websocket", {
      stage,
      settings,
      ...(accountRole === undefined ? {} : { stageDependsOn: [accountRole] }),
    });
    const registry = new RegistryBucket(this, "registry", { stage, prefix: CONNECTIONS_PREFIX });
    const topic = new StageTopic(this, "topic", { name: resourceNames(stage).topic });

    const environment: Record<StageEnvName, string> = {
      [ENV.connectionsBucket]: registry.bucket.bucket,
      [ENV.connectionsPrefix]: registry.prefix,
      [ENV.managementEndpoint]: api.managementEndpoint,
    };
    const targets = {
      stage,
      bucketArn: registry.bucket.arn,
      prefix: registry.prefix,
      executionArn: api.api.executionArn,
    };
    const functions = {} as Record<FunctionName, StageFunction>;
    for (const fn of FUNCTION_NAMES) {
      const subscriber = FUNCTIONS[fn].topicSubscriber;
      functions[fn] = new StageFunction(this, fn, {
        stage,
        fn,
        bundle: props.bundles[fn],
        settings,
        environment,
        targets,
        ...(subscriber ? { failureQueueArn: topic.failureQueue.arn } : {}),
      });
      if (subscriber) topic.subscribe(functions[fn].function);
    }
    for (const routeKey of SERVED_ROUTE_KEYS) {
      api.route(routeKey, functions[functionForRoute(routeKey)].function);
    }
    if (settings.alarms) this.alarms(stage, functions, topic);

    const outputs: Record<(typeof STACK_OUTPUTS)[number], string> = {
      region: settings.region,
      websocketUrl: api.stage.invokeUrl,
      managementEndpoint: api.managementEndpoint,
      topicArn: topic.topic.arn,
      connectionsBucket: registry.bucket.bucket,
      connectionsPrefix: registry.prefix,
    };
    for (const [name, value] of Object.entries(outputs)) {
      new TerraformOutput(this, name, { value, staticId: true });
    }
  }

  private configureTerraform(props: WebSocketStackProps): void {
    new AwsProvider(this, "aws", {
      region: props.settings.region,
      defaultTags: [{ tags: { project: PROJECT, stage: props.stage } }],
    });
    this.addOverride("terraform.required_providers.aws", {
      source: "hashicorp/aws",
      version: AWS_PROVIDER_CONSTRAINT,
    });
    const backend = stateBackend(props.stage, props.settings.region, props.env ?? process.env);
    if (backend.type === "local") {
      new LocalBackend(this, { path: backend.path });
    } else {
      new S3Backend(this, {
        bucket: backend.bucket,
        key: backend.key,
        region: backend.region,
        encrypt: backend.encrypt,
      });
      // cdktf 0.21 predates S3-native locking.
      this.addOverride("terraform.backend.s3.use_lockfile", backend.useLockfile);
    }
  }

  /** The account-wide role API Gateway uses to write access logs (one per account and region). */
  private apiGatewayAccountRole(): ApiGatewayAccount {
    const role = new IamRole(this, "apigateway-cloudwatch-role", {
      name: `${PROJECT}-apigateway-cloudwatch`,
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Principal: { Service: "apigateway.amazonaws.com" },
            Action: "sts:AssumeRole",
          },
        ],
      }),
    });
    const attachment = new IamRolePolicyAttachment(this, "apigateway-cloudwatch-policy", {
      role: role.name,
      policyArn: "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
    });
    return new ApiGatewayAccount(this, "apigateway-account", {
      cloudwatchRoleArn: role.arn,
      dependsOn: [attachment],
    });
  }

  private alarms(
    stage: DeployedStage,
    functions: Record<FunctionName, StageFunction>,
    topic: StageTopic,
  ): void {
    for (const fn of FUNCTION_NAMES) {
      new CloudwatchMetricAlarm(this, `${fn}-errors`, {
        alarmName: `${resourceNames(stage).functionName(fn)}-errors`,
        alarmDescription: `The ${fn} function of ${stage} failed.`,
        namespace: "AWS/Lambda",
        metricName: "Errors",
        dimensions: { FunctionName: functions[fn].function.functionName },
        statistic: "Sum",
        period: 300,
        evaluationPeriods: 1,
        threshold: 0,
        comparisonOperator: "GreaterThanThreshold",
        treatMissingData: "notBreaching",
      });
    }
    new CloudwatchMetricAlarm(this, "undelivered-messages", {
      alarmName: `${resourceNames(stage).topic}-undelivered`,
      alarmDescription: `Messages published to ${stage}'s topic that the subscriber could not deliver.`,
      namespace: "AWS/SQS",
      metricName: "ApproximateNumberOfMessagesVisible",
      dimensions: { QueueName: topic.failureQueue.name },
      statistic: "Maximum",
      period: 300,
      evaluationPeriods: 1,
      threshold: 0,
      comparisonOperator: "GreaterThanThreshold",
      treatMissingData: "notBreaching",
    });
  }
}
