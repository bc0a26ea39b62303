import { join } from "node:path";
import { Apigatewayv2Api } from "@cdktf/provider-aws/lib/apigatewayv2-api/index.js";
import { Apigatewayv2Stage } from "@cdktf/provider-aws/lib/apigatewayv2-stage/index.js";
import { S3BucketOwnershipControls } from "@cdktf/provider-aws/lib/s3-bucket-ownership-controls/index.js";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block/index.js";
import { S3BucketServerSideEncryptionConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration/index.js";
import { Testing } from "cdktf";
import {
  getToHaveResourceWithProperties,
  returnMatcherToJest,
} from "cdktf/lib/testing/matchers.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ARTIFACTS,
  CONNECTIONS_PREFIX,
  DEPLOYED_STAGES,
  ENV,
  FANOUT,
  FANOUT_METRICS,
  FUNCTION_NAMES,
  FUNCTIONS,
  functionForRoute,
  PROJECT,
  ROUTE_SELECTION_EXPRESSION,
  resourceNames,
  SERVED_ROUTE_KEYS,
  STACK_OUTPUTS,
} from "../functions/contract.js";
import { localStatePath } from "./backend.js";
import { readBundles } from "./bundle.js";
import { STAGE_SETTINGS } from "./stages.js";
import {
  type Fixture,
  only,
  type Resource,
  ref,
  resources,
  synthesizeFixture,
} from "./synthesized-fixture.js";
import { WebSocketStack } from "./websocket-stack.js";

const toHaveResourceWithProperties = getToHaveResourceWithProperties();
expect.extend({
  toHaveResourceWithProperties(
    received: string,
    type: Parameters<typeof toHaveResourceWithProperties>[1],
    properties: Record<string, unknown>,
  ) {
    return returnMatcherToJest(toHaveResourceWithProperties(received, type, properties));
  },
});
declare module "vitest" {
  interface Assertion {
    toHaveResourceWithProperties(
      type: Parameters<typeof toHaveResourceWithProperties>[1],
      properties: Record<string, unknown>,
    ): void;
  }
}

let fixture: Fixture;
beforeAll(() => {
  fixture = synthesizeFixture();
});
afterAll(() => fixture.remove());

function functionId(stage: (typeof DEPLOYED_STAGES)[number], fn: string): string {
  const name = resourceNames(stage).functionName(fn as (typeof FUNCTION_NAMES)[number]);
  return only(fixture.stacks[stage], "aws_lambda_function", (r) => r.function_name === name)[0];
}

describe.each(DEPLOYED_STAGES)("the %s stack", (stage) => {
  const settings = STAGE_SETTINGS[stage];
  const stack = () => fixture.stacks[stage];
  const apiId = () => only(stack(), "aws_apigatewayv2_api")[0];
  const queueId = (name = resourceNames(stage).failureQueue) =>
    only(stack(), "aws_sqs_queue", (queue) => queue.name === name)[0];
  const topicId = () => only(stack(), "aws_sns_topic")[0];

  it("is a WebSocket API selecting routes by the contract's expression", () => {
    expect(stack().text).toHaveResourceWithProperties(Apigatewayv2Api, {
      name: resourceNames(stage).api,
      protocol_type: "WEBSOCKET",
      route_selection_expression: ROUTE_SELECTION_EXPRESSION,
    });
  });

  it("routes every route key through its own integration to the function that serves it", () => {
    const routes = resources(stack(), "aws_apigatewayv2_route").map(([, route]) => route);
    expect(routes.map((route) => route.route_key).sort()).toEqual([...SERVED_ROUTE_KEYS].sort());
    const integrations = Object.fromEntries(resources(stack(), "aws_apigatewayv2_integration"));
    for (const routeKey of SERVED_ROUTE_KEYS) {
      const route = routes.find((r) => r.route_key === routeKey) as Resource;
      expect(route.api_id).toBe(ref("aws_apigatewayv2_api", apiId(), "id"));
      const integrationId = /^integrations\/\$\{aws_apigatewayv2_integration\.(.+)\.id\}$/.exec(
        String(route.target),
      )?.[1];
      const integration = integrations[integrationId ?? ""];
      expect(integration, `integration of ${routeKey}`).toMatchObject({
        api_id: ref("aws_apigatewayv2_api", apiId(), "id"),
        integration_type: "AWS_PROXY",
        integration_uri: ref(
          "aws_lambda_function",
          functionId(stage, functionForRoute(routeKey)),
          "invoke_arn",
        ),
      });
    }
    expect(Object.keys(integrations)).toHaveLength(SERVED_ROUTE_KEYS.length);
  });

  it("lets API Gateway invoke each function from exactly the routes it serves", () => {
    const permissions = resources(stack(), "aws_lambda_permission")
      .map(([, permission]) => permission)
      .filter((permission) => permission.principal === "apigateway.amazonaws.com");
    const granted = permissions.map((permission) => [
      permission.function_name,
      permission.source_arn,
    ]);
    const expected = SERVED_ROUTE_KEYS.map((routeKey) => [
      ref("aws_lambda_function", functionId(stage, functionForRoute(routeKey)), "function_name"),
      `${ref("aws_apigatewayv2_api", apiId(), "execution_arn")}/${stage}/${routeKey}`,
    ]);
    expect(granted.sort()).toEqual(expected.sort());
  });

  it("deploys the stage automatically with the stage's throttling and JSON access logs", () => {
    expect(stack().text).toHaveResourceWithProperties(Apigatewayv2Stage, {
      name: stage,
      auto_deploy: true,
      default_route_settings: {
        throttling_rate_limit: settings.throttling.rateLimit,
        throttling_burst_limit: settings.throttling.burstLimit,
      },
    });
    const [, apiStage] = only(stack(), "aws_apigatewayv2_stage");
    const access = apiStage.access_log_settings as { destination_arn: string; format: string };
    const [logsId] = only(
      stack(),
      "aws_cloudwatch_log_group",
      (group) => group.name === resourceNames(stage).accessLogGroup,
    );
    expect(access.destination_arn).toBe(ref("aws_cloudwatch_log_group", logsId, "arn"));
    expect(Object.keys(JSON.parse(access.format) as object)).toContain("routeKey");
  });

  it("keeps every log group for the stage's retention", () => {
    const groups = resources(stack(), "aws_cloudwatch_log_group").map(([, group]) => group);
    expect(groups.map((group) => group.name).sort()).toEqual(
      [
        resourceNames(stage).accessLogGroup,
        ...FUNCTION_NAMES.map((fn) => resourceNames(stage).functionLogGroup(fn)),
      ].sort(),
    );
    for (const group of groups) expect(group.retention_in_days).toBe(settings.logRetentionDays);
  });

  it("runs each function from its bundle zip on nodejs22.x arm64, logging JSON to its group", () => {
    for (const fn of FUNCTION_NAMES) {
      const [, lambda] = only(
        stack(),
        "aws_lambda_function",
        (r) => r.function_name === resourceNames(stage).functionName(fn),
      );
      const digest = Buffer.from(fixture.manifest.functions[fn].sha256, "hex").toString("base64");
      expect(lambda).toMatchObject({
        runtime: ARTIFACTS.runtime,
        architectures: [ARTIFACTS.architecture],
        handler: ARTIFACTS.handler,
        memory_size: settings.memoryMb,
        timeout: FUNCTIONS[fn].shardWorker ? FANOUT.workerTimeoutSeconds : settings.timeoutSeconds,
        source_code_hash: digest,
        logging_config: { log_format: "JSON" },
      });
      expect(String(lambda.filename)).toMatch(new RegExp(`^assets/.+/${fn}\\.zip$`));
    }
  });

  it("gives each function exactly the environment the contract says it reads", () => {
    for (const fn of FUNCTION_NAMES) {
      const [, lambda] = only(
        stack(),
        "aws_lambda_function",
        (r) => r.function_name === resourceNames(stage).functionName(fn),
      );
      const variables = (lambda.environment as { variables: Record<string, string> }).variables;
      expect(Object.keys(variables).sort()).toEqual(
        [...new Set([...FUNCTIONS[fn].env, ENV.serviceName, ENV.logLevel])].sort(),
      );
      expect(variables[ENV.logLevel]).toBe(settings.logLevel);
      if (FUNCTIONS[fn].env.includes(ENV.connectionsPrefix)) {
        expect(variables[ENV.connectionsPrefix]).toBe(CONNECTIONS_PREFIX);
      }
      if (FUNCTIONS[fn].env.includes(ENV.fanoutFunction)) {
        expect([
          variables[ENV.fanoutFunction],
          variables[ENV.fanoutPageSize],
          variables[ENV.fanoutInProcessMax],
          variables[ENV.postsPerSecond],
        ]).toEqual([
          resourceNames(stage).functionName("fanout"),
          String(settings.fanout.pageSize),
          String(settings.fanout.inProcessMax),
          String(settings.fanout.postsPerSecond),
        ]);
      }
      if (FUNCTIONS[fn].env.includes(ENV.managementEndpoint)) {
        expect(variables[ENV.managementEndpoint]).toBe(
          `https://${ref("aws_apigatewayv2_api", apiId(), "id")}.execute-api.${settings.region}.amazonaws.com/${stage}`,
        );
      }
    }
  });

  it("keeps the registry bucket private, encrypted, owner-enforced and TLS-only", () => {
    const [bucketId] = only(stack(), "aws_s3_bucket");
    const bucket = ref("aws_s3_bucket", bucketId, "id");
    expect(stack().text).toHaveResourceWithProperties(S3BucketPublicAccessBlock, {
      bucket,
      block_public_acls: true,
      block_public_policy: true,
      ignore_public_acls: true,
      restrict_public_buckets: true,
    });
    expect(stack().text).toHaveResourceWithProperties(S3BucketServerSideEncryptionConfigurationA, {
      bucket,
      rule: [{ apply_server_side_encryption_by_default: { sse_algorithm: "AES256" } }],
    });
    expect(stack().text).toHaveResourceWithProperties(S3BucketOwnershipControls, {
      bucket,
      rule: { object_ownership: "BucketOwnerEnforced" },
    });
    const [, bucketPolicy] = only(stack(), "aws_s3_bucket_policy");
    expect(bucketPolicy.bucket).toBe(bucket);
    const policy = JSON.parse(String(bucketPolicy.policy)) as { Statement: Resource[] };
    expect(policy.Statement).toContainEqual(
      expect.objectContaining({
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      }),
    );
  });

  it("expires registry objects under the prefix after a day", () => {
    const [, lifecycle] = only(stack(), "aws_s3_bucket_lifecycle_configuration");
    expect(lifecycle.rule).toEqual([
      expect.objectContaining({
        status: "Enabled",
        filter: [{ prefix: CONNECTIONS_PREFIX }],
        expiration: [{ days: 1 }],
      }),
    ]);
  });

  it("lets only the account publish to the topic", () => {
    const [, topicPolicy] = only(stack(), "aws_sns_topic_policy");
    const topicArn = ref("aws_sns_topic", topicId(), "arn");
    // The account id is read from the topic ARN by a Terraform expression inside the JSON text.
    const account = `\${element(split(":", ${topicArn.slice(2, -1)}), 4)}`;
    const text = String(topicPolicy.policy);
    expect(text).toContain(account);
    const policy = JSON.parse(text.replace(account, "ACCOUNT")) as { Statement: Resource[] };
    expect(policy.Statement).toEqual([
      {
        Sid: "PublishFromThisAccountOnly",
        Effect: "Allow",
        Principal: { AWS: "arn:aws:iam::ACCOUNT:root" },
        Action: "sns:Publish",
        Resource: topicArn,
      },
    ]);
  });

  it("subscribes the subscriber to the topic and sends its failed invokes to the queue", () => {
    const subscriber = FUNCTION_NAMES.find((fn) => FUNCTIONS[fn].topicSubscriber) ?? "";
    const lambdaId = functionId(stage, subscriber);
    const [, subscription] = only(stack(), "aws_sns_topic_subscription");
    expect(subscription).toMatchObject({
      protocol: "lambda",
      topic_arn: ref("aws_sns_topic", topicId(), "arn"),
      endpoint: ref("aws_lambda_function", lambdaId, "arn"),
    });
    const [, invoke] = only(
      stack(),
      "aws_lambda_permission",
      (permission) => permission.principal === "sns.amazonaws.com",
    );
    expect(invoke).toMatchObject({
      function_name: ref("aws_lambda_function", lambdaId, "function_name"),
      source_arn: ref("aws_sns_topic", topicId(), "arn"),
    });
    const [, onFailure] = only(
      stack(),
      "aws_lambda_function_event_invoke_config",
      (config) => config.function_name === ref("aws_lambda_function", lambdaId, "function_name"),
    );
    expect(onFailure).toMatchObject({
      destination_config: {
        on_failure: { destination: ref("aws_sqs_queue", queueId(), "arn") },
      },
    });
  });

  it("retries a failed fan-out shard twice, then keeps it in its own encrypted queue", () => {
    const worker = FUNCTION_NAMES.find((fn) => FUNCTIONS[fn].shardWorker) ?? "";
    const lambdaId = functionId(stage, worker);
    const names = resourceNames(stage);
    const [, queue] = only(stack(), "aws_sqs_queue", (q) => q.name === names.fanoutFailureQueue);
    expect(queue).toMatchObject({
      sqs_managed_sse_enabled: true,
      message_retention_seconds: 14 * 24 * 60 * 60,
    });
    const [, onFailure] = only(
      stack(),
      "aws_lambda_function_event_invoke_config",
      (config) => config.function_name === ref("aws_lambda_function", lambdaId, "function_name"),
    );
    expect(onFailure).toMatchObject({
      maximum_retry_attempts: FANOUT.maxRetries,
      maximum_event_age_in_seconds: FANOUT.maxEventAgeSeconds,
      destination_config: {
        on_failure: {
          destination: ref("aws_sqs_queue", queueId(names.fanoutFailureQueue), "arn"),
        },
      },
    });
    expect(FANOUT.maxRetries).toBe(2);
    // Nothing but the dispatchers' roles may invoke it: no resource policy opens it up.
    expect(
      resources(stack(), "aws_lambda_permission").filter(
        ([, permission]) =>
          permission.function_name === ref("aws_lambda_function", lambdaId, "function_name"),
      ),
    ).toEqual([]);
  });

  it("outputs exactly the contract's stage outputs", () => {
    expect(Object.keys(stack().json.output).sort()).toEqual([...STACK_OUTPUTS].sort());
    expect(stack().json.output.region?.value).toBe(settings.region);
    expect(stack().json.output.websocketUrl?.value).toBe(
      ref("aws_apigatewayv2_stage", only(stack(), "aws_apigatewayv2_stage")[0], "invoke_url"),
    );
  });

  it("tags every resource with the project and stage, in the stage's region", () => {
    expect(stack().json.provider.aws).toEqual([
      {
        region: settings.region,
        default_tags: [{ tags: { project: PROJECT, stage } }],
      },
    ]);
  });

  it("pins the AWS provider to the 6.x line the bindings were generated for", () => {
    const aws = (stack().json.terraform.required_providers as Record<string, Resource>).aws;
    expect(aws?.source).toBe("hashicorp/aws");
    expect(aws?.version).toBe("~> 6.25");
  });

  it("manages the account's API Gateway CloudWatch role only where the stage says so", () => {
    const accounts = resources(stack(), "aws_api_gateway_account");
    expect(accounts).toHaveLength(settings.apiGatewayAccountRole ? 1 : 0);
    const [, apiStage] = only(stack(), "aws_apigatewayv2_stage");
    const [accountId] = accounts[0] ?? [];
    if (accountId === undefined) {
      expect(apiStage.depends_on).toBeUndefined();
    } else {
      // Access logging fails until the account has its CloudWatch role.
      expect(apiStage.depends_on).toEqual([`aws_api_gateway_account.${accountId}`]);
    }
  });

  it("alarms on function errors, undelivered messages and failed shards only where the stage says so", () => {
    const alarms = resources(stack(), "aws_cloudwatch_metric_alarm").map(([, alarm]) => alarm);
    const names = resourceNames(stage);
    expect(alarms.map((alarm) => alarm.alarm_name).sort()).toEqual(
      settings.alarms
        ? [
            ...FUNCTION_NAMES.map((fn) => names.functionErrorsAlarm(fn)),
            names.undeliveredAlarm,
            names.fanoutFailedAlarm,
            names.fanoutUndeliveredAlarm,
          ].sort()
        : [],
    );
    if (!settings.alarms) return;
    expect(alarms.find((alarm) => alarm.alarm_name === names.fanoutFailedAlarm)).toMatchObject({
      namespace: "AWS/SQS",
      dimensions: {
        QueueName: ref("aws_sqs_queue", queueId(names.fanoutFailureQueue), "name"),
      },
    });
    expect(alarms.find((alarm) => alarm.alarm_name === names.fanoutUndeliveredAlarm)).toMatchObject(
      {
        namespace: FANOUT_METRICS.namespace,
        metric_name: FANOUT_METRICS.undelivered,
        dimensions: { service: names.functionName("fanout") },
      },
    );
  });
});

describe("the stages", () => {
  it("differ in throttling and log retention as their settings say", () => {
    const synthesized = DEPLOYED_STAGES.map((stage) => {
      const [, apiStage] = only(fixture.stacks[stage], "aws_apigatewayv2_stage");
      const [, group] = only(
        fixture.stacks[stage],
        "aws_cloudwatch_log_group",
        (g) => g.name === resourceNames(stage).accessLogGroup,
      );
      const routeSettings = apiStage.default_route_settings as Resource;
      return [
        routeSettings.throttling_rate_limit,
        routeSettings.throttling_burst_limit,
        group.retention_in_days,
      ];
    });
    expect(synthesized).toEqual(
      DEPLOYED_STAGES.map((stage) => {
        const { throttling, logRetentionDays } = STAGE_SETTINGS[stage];
        return [throttling.rateLimit, throttling.burstLimit, logRetentionDays];
      }),
    );
    expect(new Set(synthesized.map((values) => JSON.stringify(values))).size).toBe(
      DEPLOYED_STAGES.length,
    );
  });

  it("keep their state in a local file by a relative path when no state bucket is set", () => {
    for (const stage of DEPLOYED_STAGES) {
      expect(fixture.stacks[stage].json.terraform.backend).toEqual({
        local: { path: localStatePath(stage) },
      });
      expect(localStatePath(stage)).toMatch(/^\.\.\//);
    }
  });
});

describe("the stage's fan-out settings", () => {
  it("refuses to synthesize a stage whose in-process maximum its budget cannot post in time", () => {
    const bundles = readBundles(join(fixture.root, ARTIFACTS.dir));
    const build = (inProcessMax: number) =>
      new WebSocketStack(Testing.app(), `check-${inProcessMax}`, {
        stage: "dev",
        settings: {
          ...STAGE_SETTINGS.dev,
          fanout: { ...STAGE_SETTINGS.dev.fanout, postsPerSecond: 1000, inProcessMax },
        },
        bundles,
      });
    // dev: 10 s timeout less the 3 s margin; positive control first.
    expect(() => build(7000)).not.toThrow();
    expect(() => build(8000)).toThrow(
      /^Stage dev: fanout\.inProcessMax 8000 at 1000 posts\/s takes 8\.0 s, more than the 7 s .*Fix it in stacks\/stages\.ts\.$/,
    );
  });
});
