import { ApiGatewayAccount } from "@cdktf/provider-aws/lib/api-gateway-account/index.js";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role/index.js";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment/index.js";
import { Construct } from "constructs";
import { PROJECT } from "../functions/contract.js";

/** Name of the account-wide role API Gateway writes access logs with (one per account). */
export const API_GATEWAY_CLOUDWATCH_ROLE = `${PROJECT}-apigateway-cloudwatch`;

/** The AWS managed policy that role carries. */
export const API_GATEWAY_CLOUDWATCH_POLICY_ARN =
  "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs";

/**
 * The account-wide role API Gateway uses to write access logs. There is one per account and
 * region, so exactly one stack in each manages it (StageSettings.apiGatewayAccountRole).
 */
export class ApiGatewayCloudWatchRole extends Construct {
  readonly account: ApiGatewayAccount;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const role = new IamRole(this, "role", {
      name: API_GATEWAY_CLOUDWATCH_ROLE,
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
    const attachment = new IamRolePolicyAttachment(this, "policy", {
      role: role.name,
      policyArn: API_GATEWAY_CLOUDWATCH_POLICY_ARN,
    });
    this.account = new ApiGatewayAccount(this, "account", {
      cloudwatchRoleArn: role.arn,
      dependsOn: [attachment],
    });
  }
}
