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
import { StageAlarms } from "./alarms.js";
import { WebSocketApi } from "./api.js";
import { ApiGatewayCloudWatchRole } from "./api-gateway-account.js";
import { stateBackend } from "./backend.js";
import type { FunctionBundle } from "./bundle.js";
import { FanoutFailures } from "./fanout-failures.js";
import { type StageEnvName, StageFunction } from "./functions.js";
import { RegistryBucket } from "./registry-bucket.js";
import { fanoutSettingsProblem, type StageSettings } from "./stages.js";
import { StageTopic } from "./topic.js";

/**
 * The provider versions the synthesized JSON accepts: the 6.x line the bindings were generated
 * from (@cdktf/provider-aws 21.x targets hashicorp/aws 6.25), so dev and a later promotion of the
 * same build cannot pick different major or older minor versions; the build's
 * `.terraform.lock.hcl` then fixes the exact version. Offline validation on a machine whose
 * filesystem mirror holds only 5.100 relaxes this through a validation-only override file
 * (scripts/terraform/provider-mirror.ts), never in the synthesized stack.
 */
export const AWS_PROVIDER_CONSTRAINT = "~> 6.25";

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
    const fanoutProblem = fanoutSettingsProblem(settings);
    if (fanoutProblem !== undefined) {
      throw new Error(`Stage ${stage}: ${fanoutProblem}. Fix it in stacks/stages.ts.`);
    }
    this.configureTerraform(props);

    const accountRole = settings.apiGatewayAccountRole
      ? new ApiGatewayCloudWatchRole(this, "apigateway-cloudwatch")
      : undefined;
    const api = new WebSocketApi(this, "websocket", {
      stage,
      settings,
      ...(accountRole === undefined ? {} : { stageDependsOn: [accountRole.account] }),
    });
    const registry = new RegistryBucket(this, "registry", { stage, prefix: CONNECTIONS_PREFIX });
    const names = resourceNames(stage);
    const topic = new StageTopic(this, "topic", {
      name: names.topic,
      failureQueueName: names.failureQueue,
    });
    const fanoutFailures = new FanoutFailures(this, "fanout-failures", {
      queueName: names.fanoutFailureQueue,
    });
    const functions = this.functions(props, api, registry, topic, fanoutFailures);
    for (const routeKey of SERVED_ROUTE_KEYS) {
      api.route(routeKey, functions[functionForRoute(routeKey)]);
    }
    if (settings.alarms) {
      new StageAlarms(this, "alarms", {
        stage,
        functions,
        failureQueue: topic.failureQueue,
        fanoutFailureQueue: fanoutFailures.queue,
      });
    }
    this.outputs({
      region: settings.region,
      websocketUrl: api.stage.invokeUrl,
      managementEndpoint: api.managementEndpoint,
      topicArn: topic.topic.arn,
      connectionsBucket: registry.bucket.bucket,
      connectionsPrefix: registry.prefix,
    });
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

  /**
   * One function per contract entry: the fan-out worker first (the dispatchers' role names its
   * ARN), with its asynchronous invocation policy; the topic subscriber also gets its
   * subscription.
   */
  private functions(
    props: WebSocketStackProps,
    api: WebSocketApi,
    registry: RegistryBucket,
    topic: StageTopic,
    fanoutFailures: FanoutFailures,
  ): Record<FunctionName, StageFunction["function"]> {
    const names = resourceNames(props.stage);
    const worker = FUNCTION_NAMES.find((fn) => FUNCTIONS[fn].shardWorker);
    if (worker === undefined) throw new Error("The contract names no fan-out worker (shardWorker)");
    const environment: Record<StageEnvName, string> = {
      [ENV.connectionsBucket]: registry.bucket.bucket,
      [ENV.connectionsPrefix]: registry.prefix,
      [ENV.managementEndpoint]: api.managementEndpoint,
      [ENV.topicArn]: topic.topic.arn,
      [ENV.fanoutFunction]: names.functionName(worker),
      [ENV.fanoutPageSize]: String(props.settings.fanout.pageSize),
      [ENV.fanoutInProcessMax]: String(props.settings.fanout.inProcessMax),
      [ENV.postsPerSecond]: String(props.settings.fanout.postsPerSecond),
    };
    const targets = {
      stage: props.stage,
      bucketArn: registry.bucket.arn,
      prefix: registry.prefix,
      executionArn: api.api.executionArn,
      topicArn: topic.topic.arn,
    };
    const functions = {} as Record<FunctionName, StageFunction["function"]>;
    const create = (fn: FunctionName, fanoutFunctionArn: string) => {
      const spec = FUNCTIONS[fn];
      const failureQueueArn = spec.topicSubscriber
        ? topic.failureQueue.arn
        : spec.shardWorker
          ? fanoutFailures.queue.arn
          : undefined;
      const { function: lambda } = new StageFunction(this, fn, {
        stage: props.stage,
        fn,
        bundle: props.bundles[fn],
        settings: props.settings,
        environment,
        targets: { ...targets, fanoutFunctionArn },
        ...(failureQueueArn === undefined ? {} : { failureQueueArn }),
      });
      if (spec.topicSubscriber) topic.subscribe(lambda);
      if (spec.shardWorker) fanoutFailures.configure(lambda);
      functions[fn] = lambda;
      return lambda;
    };
    // The worker's own role grants nothing on itself: its ARN is not needed to create it.
    const workerArn = create(worker, "").arn;
    for (const fn of FUNCTION_NAMES) if (fn !== worker) create(fn, workerArn);
    return functions;
  }

  private outputs(values: Record<(typeof STACK_OUTPUTS)[number], string>): void {
    for (const [name, value] of Object.entries(values)) {
      new TerraformOutput(this, name, { value, staticId: true });
    }
  }
}
