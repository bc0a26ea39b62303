import { Apigatewayv2Api } from "@cdktf/provider-aws/lib/apigatewayv2-api/index.js";
import { Apigatewayv2Integration } from "@cdktf/provider-aws/lib/apigatewayv2-integration/index.js";
import { Apigatewayv2Route } from "@cdktf/provider-aws/lib/apigatewayv2-route/index.js";
import { Apigatewayv2Stage } from "@cdktf/provider-aws/lib/apigatewayv2-stage/index.js";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group/index.js";
import type { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function/index.js";
import { LambdaPermission } from "@cdktf/provider-aws/lib/lambda-permission/index.js";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import {
  type DeployedStage,
  LIMITS,
  ROUTE_SELECTION_EXPRESSION,
  type RouteKey,
  resourceNames,
} from "../functions/contract.js";
import type { StageSettings } from "./stages.js";

/** One JSON line per request in the access log. */
const ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: "$context.requestId",
  requestTime: "$context.requestTime",
  ip: "$context.identity.sourceIp",
  eventType: "$context.eventType",
  routeKey: "$context.routeKey",
  connectionId: "$context.connectionId",
  status: "$context.status",
  integrationStatus: "$context.integration.status",
  integrationLatency: "$context.integration.latency",
  error: "$context.error.message",
  integrationError: "$context.integration.error",
});

export interface WebSocketApiProps {
  readonly stage: DeployedStage;
  readonly settings: StageSettings;
  /** Resources the stage must wait for, e.g. the account's API Gateway CloudWatch role. */
  readonly stageDependsOn?: ITerraformDependable[];
}

/** The WebSocket API and its stage: auto deploy, default route throttling, JSON access logs. */
export class WebSocketApi extends Construct {
  readonly api: Apigatewayv2Api;
  readonly stage: Apigatewayv2Stage;
  /** Base URL of the Management API (@connections) for this stage; Terraform has no attribute. */
  readonly managementEndpoint: string;
  private readonly stageName: DeployedStage;

  constructor(scope: Construct, id: string, props: WebSocketApiProps) {
    super(scope, id);
    const names = resourceNames(props.stage);
    this.stageName = props.stage;
    this.api = new Apigatewayv2Api(this, "api", {
      name: names.api,
      protocolType: "WEBSOCKET",
      routeSelectionExpression: ROUTE_SELECTION_EXPRESSION,
    });
    const accessLogs = new CloudwatchLogGroup(this, "access-logs", {
      name: names.accessLogGroup,
      retentionInDays: props.settings.logRetentionDays,
    });
    this.stage = new Apigatewayv2Stage(this, "stage", {
      apiId: this.api.id,
      name: props.stage,
      autoDeploy: true,
      defaultRouteSettings: {
        throttlingRateLimit: props.settings.throttling.rateLimit,
        throttlingBurstLimit: props.settings.throttling.burstLimit,
      },
      accessLogSettings: { destinationArn: accessLogs.arn, format: ACCESS_LOG_FORMAT },
      ...(props.stageDependsOn === undefined ? {} : { dependsOn: props.stageDependsOn }),
    });
    this.managementEndpoint = `https://${this.api.id}.execute-api.${props.settings.region}.amazonaws.com/${props.stage}`;
  }

  /** A route, its Lambda proxy integration, and the permission for this route to invoke it. */
  route(routeKey: RouteKey, fn: LambdaFunction): void {
    const slug = routeKey.replace(/^\$/, "");
    const integration = new Apigatewayv2Integration(this, `integration-${slug}`, {
      apiId: this.api.id,
      integrationType: "AWS_PROXY",
      integrationUri: fn.invokeArn,
      integrationMethod: "POST",
      timeoutMilliseconds: LIMITS.integrationTimeoutMs,
    });
    new Apigatewayv2Route(this, `route-${slug}`, {
      apiId: this.api.id,
      routeKey,
      target: `integrations/${integration.id}`,
    });
    new LambdaPermission(this, `permission-${slug}`, {
      functionName: fn.functionName,
      action: "lambda:InvokeFunction",
      principal: "apigateway.amazonaws.com",
      statementId: `AllowRoute-${slug}`,
      sourceArn: `${this.api.executionArn}/${this.stageName}/${routeKey}`,
    });
  }
}
