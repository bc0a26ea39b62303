import { CloudwatchMetricAlarm } from "@cdktf/provider-aws/lib/cloudwatch-metric-alarm/index.js";
import type { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function/index.js";
import type { SqsQueue } from "@cdktf/provider-aws/lib/sqs-queue/index.js";
import { Construct } from "constructs";
import {
  type DeployedStage,
  FANOUT_METRICS,
  FUNCTION_NAMES,
  FUNCTIONS,
  type FunctionName,
  resourceNames,
} from "../functions/contract.js";

const EVERY_FIVE_MINUTES = { period: 300, evaluationPeriods: 1 } as const;

/**
 * Alarms that something was lost: a function failed, or a published message is in the failure
 * queue. They have no actions: wire them to a notification channel of your choice.
 */
export class StageAlarms extends Construct {
  constructor(
    scope: Construct,
    id: string,
    props: {
      stage: DeployedStage;
      functions: Readonly<Record<FunctionName, LambdaFunction>>;
      failureQueue: SqsQueue;
      fanoutFailureQueue: SqsQueue;
    },
  ) {
    super(scope, id);
    const names = resourceNames(props.stage);
    for (const fn of FUNCTION_NAMES) {
      new CloudwatchMetricAlarm(this, `${fn}-errors`, {
        alarmName: names.functionErrorsAlarm(fn),
        alarmDescription: `The ${fn} function of ${props.stage} failed.`,
        namespace: "AWS/Lambda",
        metricName: "Errors",
        dimensions: { FunctionName: props.functions[fn].functionName },
        statistic: "Sum",
        threshold: 0,
        comparisonOperator: "GreaterThanThreshold",
        treatMissingData: "notBreaching",
        ...EVERY_FIVE_MINUTES,
      });
    }
    new CloudwatchMetricAlarm(this, "undelivered-messages", {
      alarmName: names.undeliveredAlarm,
      alarmDescription: `Messages published to ${props.stage}'s topic that the subscriber could not deliver.`,
      namespace: "AWS/SQS",
      metricName: "ApproximateNumberOfMessagesVisible",
      dimensions: { QueueName: props.failureQueue.name },
      statistic: "Maximum",
      threshold: 0,
      comparisonOperator: "GreaterThanThreshold",
      treatMissingData: "notBreaching",
      ...EVERY_FIVE_MINUTES,
    });
    new CloudwatchMetricAlarm(this, "fanout-failed", {
      alarmName: names.fanoutFailedAlarm,
      alarmDescription: `Fan-out shards of ${props.stage} that failed after Lambda's retries: their connections did not get the message.`,
      namespace: "AWS/SQS",
      metricName: "ApproximateNumberOfMessagesVisible",
      dimensions: { QueueName: props.fanoutFailureQueue.name },
      statistic: "Maximum",
      threshold: 0,
      comparisonOperator: "GreaterThanThreshold",
      treatMissingData: "notBreaching",
      ...EVERY_FIVE_MINUTES,
    });
    for (const fn of FUNCTION_NAMES.filter((name) => FUNCTIONS[name].shardWorker)) {
      new CloudwatchMetricAlarm(this, "fanout-undelivered", {
        alarmName: names.fanoutUndeliveredAlarm,
        alarmDescription: `Connections a fan-out shard of ${props.stage} could not reach (its log line names them).`,
        namespace: FANOUT_METRICS.namespace,
        metricName: FANOUT_METRICS.undelivered,
        // Powertools Metrics' default dimension: the service, i.e. the worker's function name.
        dimensions: { service: names.functionName(fn) },
        statistic: "Sum",
        threshold: 0,
        comparisonOperator: "GreaterThanThreshold",
        treatMissingData: "notBreaching",
        ...EVERY_FIVE_MINUTES,
      });
    }
  }
}
