import type { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function/index.js";
import { LambdaFunctionEventInvokeConfig } from "@cdktf/provider-aws/lib/lambda-function-event-invoke-config/index.js";
import { SqsQueue } from "@cdktf/provider-aws/lib/sqs-queue/index.js";
import { Construct } from "constructs";
import { FANOUT } from "../functions/contract.js";

/** Seconds a failed shard stays in the queue: the SQS maximum, 14 days. */
const FAILURE_RETENTION_SECONDS = 14 * 24 * 60 * 60;

/**
 * Where a fan-out shard goes when its worker keeps failing: Lambda retries the asynchronous
 * invoke FANOUT.maxRetries times, then sends the event (message and connection ids) with the
 * error to this queue, encrypted, instead of dropping it. A shard older than
 * FANOUT.maxEventAgeSeconds (e.g. queued behind a concurrency limit) goes there too.
 */
export class FanoutFailures extends Construct {
  readonly queue: SqsQueue;

  constructor(scope: Construct, id: string, props: { queueName: string }) {
    super(scope, id);
    this.queue = new SqsQueue(this, "queue", {
      name: props.queueName,
      messageRetentionSeconds: FAILURE_RETENTION_SECONDS,
      sqsManagedSseEnabled: true,
    });
  }

  /** Sets the worker's asynchronous invocation policy: its retries, event age and destination. */
  configure(worker: LambdaFunction): void {
    new LambdaFunctionEventInvokeConfig(this, "on-failure", {
      functionName: worker.functionName,
      maximumRetryAttempts: FANOUT.maxRetries,
      maximumEventAgeInSeconds: FANOUT.maxEventAgeSeconds,
      destinationConfig: { onFailure: { destination: this.queue.arn } },
    });
  }
}
