import type { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function/index.js";
import { LambdaFunctionEventInvokeConfig } from "@cdktf/provider-aws/lib/lambda-function-event-invoke-config/index.js";
import { LambdaPermission } from "@cdktf/provider-aws/lib/lambda-permission/index.js";
import { SnsTopic } from "@cdktf/provider-aws/lib/sns-topic/index.js";
import { SnsTopicPolicy } from "@cdktf/provider-aws/lib/sns-topic-policy/index.js";
import { SnsTopicSubscription } from "@cdktf/provider-aws/lib/sns-topic-subscription/index.js";
import { SqsQueue } from "@cdktf/provider-aws/lib/sqs-queue/index.js";
import { Fn } from "cdktf";
import { Construct } from "constructs";
import { policyDocument } from "./permissions.js";

/** Seconds a failed event stays in the failure queue: the SQS maximum, 14 days. */
const FAILURE_RETENTION_SECONDS = 14 * 24 * 60 * 60;

/**
 * The stage's SNS topic (publish limited to the account) and the queue that catches the events
 * its subscriber could not handle after Lambda's retries, so no published message is silently
 * lost.
 */
export class StageTopic extends Construct {
  readonly topic: SnsTopic;
  readonly failureQueue: SqsQueue;

  constructor(scope: Construct, id: string, props: { name: string; failureQueueName: string }) {
    super(scope, id);
    this.topic = new SnsTopic(this, "topic", { name: props.name });
    // The account id is the fifth field of the topic ARN: no data source, so plans run offline.
    const account = Fn.element(Fn.split(":", this.topic.arn), 4);
    new SnsTopicPolicy(this, "policy", {
      arn: this.topic.arn,
      policy: policyDocument([
        {
          Sid: "PublishFromThisAccountOnly",
          Effect: "Allow",
          Principal: { AWS: `arn:aws:iam::${account}:root` },
          Action: "sns:Publish",
          Resource: this.topic.arn,
        },
      ]),
    });
    this.failureQueue = new SqsQueue(this, "failures", {
      name: props.failureQueueName,
      messageRetentionSeconds: FAILURE_RETENTION_SECONDS,
      sqsManagedSseEnabled: true,
    });
  }

  /** Subscribes a function, lets SNS invoke it, and sends its failed invokes to the queue. */
  subscribe(fn: LambdaFunction): void {
    const permission = new LambdaPermission(this, "invoke-permission", {
      functionName: fn.functionName,
      action: "lambda:InvokeFunction",
      principal: "sns.amazonaws.com",
      sourceArn: this.topic.arn,
      statementId: "AllowStageTopic",
    });
    new SnsTopicSubscription(this, "subscription", {
      topicArn: this.topic.arn,
      protocol: "lambda",
      endpoint: fn.arn,
      dependsOn: [permission],
    });
    new LambdaFunctionEventInvokeConfig(this, "on-failure", {
      functionName: fn.functionName,
      destinationConfig: { onFailure: { destination: this.failureQueue.arn } },
    });
  }
}
