import { ApiGatewayAccount } from "@cdktf/provider-aws/lib/api-gateway-account/index.js";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role/index.js";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment/index.js";
import { Construct } from "constructs";
import { PROJECT } from "../functions/contract.js";

/**
 * The account-wide role API Gateway uses to write access logs. There is one per account and
 * region, so exactly one stack in each manages it (StageSettings.apiGatewayAccountRole).
 */
export class ApiGatewayCloudWatchRole extends Construct {
  readonly account: ApiGatewayAccount;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const role = new IamRole(this, "role", {
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
    const attachment = new IamRolePolicyAttachment(this, "policy", {
      role: role.name,
      policyArn: "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
    });
    this.account = new ApiGatewayAccount(this, "account", {
      cloudwatchRoleArn: role.arn,
      dependsOn: [attachment],
    });
  }
}
