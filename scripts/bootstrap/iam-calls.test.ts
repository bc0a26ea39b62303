import { describe, expect, it } from "vitest";
import { missingCalls, recordedCalls, templated, UnmappedCallError } from "./iam-calls.js";
import { loggedCalls } from "./provider-log.js";

/** Entries as terraform 1.11 with hashicorp/aws 5.100 writes them at TF_LOG=DEBUG (shortened). */
const LOG = `2026-11-30T23:56:30.935Z [DEBUG] provider.terraform-provider-aws_v5.100.0_x5: setting endpoint: rpc.method=CreateTopic rpc.service=SNS
2026-11-30T23:56:30.935Z [DEBUG] provider.terraform-provider-aws_v5.100.0_x5: HTTP Request Sent: tf_provider_addr=registry.terraform.io/hashicorp/aws rpc.service="CloudWatch Logs" http.url=http://127.0.0.1:37589/ rpc.system=aws-api http.method=POST http.request.header.x_amz_target=Logs_20140328.CreateLogGroup aws.region=eu-west-1 http.user_agent="APN/1.0 HashiCorp/1.0 Terraform/1.11.4 (+https://www.terraform.io)"
  http.request.body=
  | {"logGroupName":"/aws/lambda/websocket-stages-dev-disconnect","tags":{"stage":"dev","project":"websocket-stages"}}
   http.request.header.authorization="AWS4-HMAC-SHA256 Credential=testing/20261130/eu-west-1/logs/aws4_request, Signature=*****" rpc.method=CreateLogGroup timestamp=2026-11-30T23:56:30.934Z
2026-11-30T23:56:30.939Z [DEBUG] provider.terraform-provider-aws_v5.100.0_x5: [DEBUG] setting computed for "inline_policy" from ComputedKeys
2026-11-30T23:56:33.784Z [DEBUG] provider.terraform-provider-aws_v5.100.0_x5: HTTP Request Sent: http.request.header.amz_sdk_request="attempt=1; max=25" rpc.service=S3 http.method=GET http.request.body="" http.url=http://127.0.0.1:37589/websocket-stages-dev-20261130235633015200000001?policy= rpc.method=GetBucketPolicy aws.region=eu-west-1
2026-11-30T23:56:33.797Z [DEBUG] provider.terraform-provider-aws_v5.100.0_x5: HTTP Response Received: http.status_code=200 rpc.method=UpdateAccount aws.region=eu-west-1
2026-11-30T23:56:34.001Z [DEBUG] provider.terraform-provider-aws_v5.100.0_x5: HTTP Request Sent: rpc.service=Lambda http.method=POST http.url=http://127.0.0.1:37589/2015-03-31/functions rpc.method=CreateFunction
  http.request.body=
  | {"FunctionName":"websocket-stages-dev-connect","Role":"arn:aws:iam::123456789012:role/websocket-stages-dev-connect","Runtime":"nodejs22.x"}
2026-11-30T23:56:35.001Z [DEBUG] provider.terraform-provider-aws_v5.100.0_x5: HTTP Request Sent: rpc.service=ApiGatewayV2 http.method=DELETE http.url=http://127.0.0.1:37589/v2/apis/issagevw/routes/gzawnyni rpc.method=DeleteRoute
`;

const TARGET = {
  account: "123456789012",
  region: "eu-west-1",
  stage: "dev",
  stateBucket: "state-bucket",
};

describe("reading Terraform's debug log", () => {
  it("finds each request sent, with its service, operation, URL and multi-line body", () => {
    const calls = loggedCalls(LOG);
    expect(calls.map((call) => `${call.service} ${call.operation}`)).toEqual([
      "CloudWatch Logs CreateLogGroup",
      "S3 GetBucketPolicy",
      "Lambda CreateFunction",
      "ApiGatewayV2 DeleteRoute",
    ]);
    expect(JSON.parse(calls[0]?.body ?? "")).toMatchObject({
      logGroupName: "/aws/lambda/websocket-stages-dev-disconnect",
    });
    expect(calls[1]?.path).toBe("/websocket-stages-dev-20261130235633015200000001?policy=");
  });

  it("reassembles a request logged as JSON in chunks, between other lines", () => {
    const json = JSON.stringify({
      "@caller": "github.com/hashicorp/aws-sdk-go-base/v2@v2.0.0-beta.65/logging/tf_logger.go:45",
      "@level": "debug",
      "@message": "HTTP Request Sent",
      "rpc.service": "Lambda",
      "rpc.method": "UpdateFunctionCode",
      "http.method": "PUT",
      "http.url": "http://127.0.0.1:37589/2015-03-31/functions/websocket-stages-dev-connect/code",
      "http.request.body": `{"ZipFile":"${"UEsDBBQAAAAIAAAAISiPk".repeat(20)}"}`,
    });
    const prefix = (time: string) =>
      `2026-11-30T23:56:34.${time}Z [DEBUG] provider.terraform-provider-aws_v5.100.0_x5: `;
    const chunked = [
      `${prefix("192")}${json.slice(0, 200)}`,
      `${prefix("194")}${json.slice(200, 400)}`,
      "2026-11-30T23:56:34.193Z [INFO]  Starting apply for aws_lambda_function.message_function_C35DB155",
      `${prefix("195")}${json.slice(400)}`,
    ].join("\n");
    const calls = loggedCalls(`${chunked}\n${LOG}`);
    expect(calls.map((call) => call.operation)).toContain("UpdateFunctionCode");
    expect(calls).toHaveLength(5);
    const update = calls.find((call) => call.operation === "UpdateFunctionCode");
    expect(update?.path).toBe("/2015-03-31/functions/websocket-stages-dev-connect/code");
  });
});

describe("mapping calls to IAM", () => {
  it("gives each call its action and resource, as a template for any stage", () => {
    const calls = recordedCalls(loggedCalls(LOG), "apply", TARGET);
    expect(calls.map(({ action, resource, context }) => ({ action, resource, context }))).toEqual([
      {
        action: "logs:CreateLogGroup",
        resource:
          "arn:aws:logs:{region}:{account}:log-group:/aws/lambda/websocket-stages-{stage}-disconnect",
        context: undefined,
      },
      {
        action: "s3:GetBucketPolicy",
        resource: "arn:aws:s3:::websocket-stages-{stage}-{suffix}",
        context: undefined,
      },
      {
        action: "lambda:CreateFunction",
        resource: "arn:aws:lambda:{region}:{account}:function:websocket-stages-{stage}-connect",
        context: undefined,
      },
      {
        action: "iam:PassRole",
        resource: "arn:aws:iam::{account}:role/websocket-stages-{stage}-connect",
        context: { "iam:PassedToService": "lambda.amazonaws.com" },
      },
      {
        action: "apigateway:DELETE",
        resource: "arn:aws:apigateway:{region}::/apis/{apis-id}/routes/{routes-id}",
        context: undefined,
      },
    ]);
  });

  it("refuses a service it does not know, rather than leaving a call out", () => {
    const log = LOG.replaceAll("rpc.service=ApiGatewayV2", "rpc.service=DynamoDB");
    expect(() => recordedCalls(loggedCalls(log), "apply", TARGET)).toThrow(UnmappedCallError);
  });

  it("templates the stage, not other stages sharing its prefix", () => {
    expect(templated("arn:aws:sns:eu-west-1:123456789012:websocket-stages-dev", TARGET)).toBe(
      "arn:aws:sns:{region}:{account}:websocket-stages-{stage}",
    );
    expect(templated("/apis/abc/stages/dev", TARGET)).toBe("/apis/{apis-id}/stages/{stage}");
  });
});

describe("checking the fixture is complete", () => {
  it("names each recorded call the fixture lacks, and nothing when it has them all", () => {
    const calls = recordedCalls(loggedCalls(LOG), "apply", TARGET);
    expect(missingCalls([...calls, ...calls], calls)).toEqual([]);
    const withoutPassRole = calls.filter((call) => call.action !== "iam:PassRole");
    expect(missingCalls(calls, withoutPassRole).map((call) => call.action)).toEqual([
      "iam:PassRole",
    ]);
    const otherPhase = calls.map((call) => ({ ...call, phase: "update" as const }));
    expect(missingCalls(calls, otherPhase)).toHaveLength(calls.length);
  });
});
