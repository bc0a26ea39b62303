import { type DeployedStage, ENV, FANOUT, LIMITS } from "../functions/contract.js";

/** Everything that differs between the deployed stages. */
export interface StageSettings {
  /** The AWS region the stage's stack deploys to; the pipeline reads it from here, nowhere else. */
  readonly region: string;
  /**
   * The 12-digit AWS account the stage lives in. Leave it unset when every stage shares one
   * account (the account of the credentials that bootstrap and deploy it); set it per stage to
   * give a stage (typically prod) an account of its own: the bootstrap then targets that account,
   * and the pipeline refuses a role ARN from any other.
   */
  readonly account?: string;
  /** Lambda memory (MB) for every function of the stage. */
  readonly memoryMb: number;
  /** Lambda timeout (s); API Gateway gives up on an integration after 29 s anyway. */
  readonly timeoutSeconds: number;
  /** Retention (days) of the function and access log groups. */
  readonly logRetentionDays: number;
  /** Default route throttling of the API stage: steady requests per second and burst. */
  readonly throttling: { readonly rateLimit: number; readonly burstLimit: number };
  /** CloudWatch alarms on function errors and on messages left in the failure queue. */
  readonly alarms: boolean;
  /** Powertools log level of the functions. */
  readonly logLevel: "DEBUG" | "INFO" | "WARN" | "ERROR";
  /**
   * Whether this stage's stack owns the account-wide API Gateway CloudWatch role (needed for
   * access logs). There is one per account and region: turn it on for exactly one stack in each.
   */
  readonly apiGatewayAccountRole: boolean;
  /**
   * Whether `npm run smoke` may broadcast from a client on this stage. A broadcast reaches every
   * connected client, so turn it off where real users are connected: the smoke test then proves
   * client → function → @connections with the echo route, which answers the sender alone.
   */
  readonly smokeBroadcast: boolean;
  /**
   * Sharded fan-out. `postsPerSecond` is the stage's throttle budget: the @connections posts per
   * second one fan-out may spend, split evenly across its shards. API Gateway throttles the whole
   * account and region at 10,000 requests per second (burst 5,000), shared by every REST, HTTP and
   * WebSocket API and every @connections call, so keep the budget well under it. To raise it past
   * that, first get the account's quota raised (Service Quotas → Amazon API Gateway → "Throttle
   * rate"), then raise `postsPerSecond` here, leaving room for the other APIs; FANOUT_POSTS_PER_SECOND
   * is refused above FANOUT.accountRequestsPerSecond, so raise that contract constant with it.
   * `pageSize`: connection ids per shard (at most FANOUT.pageSizeMax, so a shard fits one
   * asynchronous invoke and one redelivery).
   * `inProcessMax`: the largest fan-out the function that received the message posts itself, with
   * no extra invocation latency (paced at `postsPerSecond` when larger than one shard); larger ones
   * are sharded. One invocation has only its own CPU and time: at most FANOUT.inProcessMaxLimit,
   * and no more than the budget can post within the function's timeout (fanoutSettingsProblem).
   * Raise it where fan-outs of a few thousand are common and the memory gives the CPU for them;
   * 100,000 connections in-process would take minutes, far past any function's time.
   */
  readonly fanout: {
    readonly postsPerSecond: number;
    readonly pageSize: number;
    readonly inProcessMax: number;
  };
}

/** The fan-out settings every stage starts from (see StageSettings.fanout). */
const FANOUT_DEFAULTS = {
  postsPerSecond: FANOUT.postsPerSecondDefault,
  pageSize: FANOUT.pageSizeDefault,
  inProcessMax: FANOUT.inProcessMaxDefault,
} as const;

/**
 * What is wrong with a stage's fan-out settings, or undefined. The functions refuse a value out
 * of range at cold start; checking at synth says so before anything is deployed. An in-process
 * fan-out runs in the dispatcher, so at the stage's budget it must fit the time a fan-out may use:
 * the function's timeout (and API Gateway's 29 s integration window) less the hand-off margin.
 */
export function fanoutSettingsProblem(settings: StageSettings): string | undefined {
  const { postsPerSecond, pageSize, inProcessMax } = settings.fanout;
  const whole = (value: number, max: number) =>
    Number.isSafeInteger(value) && value >= 1 && value <= max;
  if (!whole(pageSize, FANOUT.pageSizeMax)) {
    return `fanout.pageSize (${ENV.fanoutPageSize}) must be a whole number from 1 to ${FANOUT.pageSizeMax} (got ${pageSize})`;
  }
  if (!whole(inProcessMax, FANOUT.inProcessMaxLimit)) {
    return `fanout.inProcessMax (${ENV.fanoutInProcessMax}) must be a whole number from 1 to ${FANOUT.inProcessMaxLimit} (got ${inProcessMax}); shard larger fan-outs`;
  }
  if (!whole(postsPerSecond, FANOUT.accountRequestsPerSecond)) {
    return `fanout.postsPerSecond (${ENV.postsPerSecond}) must be a whole number from 1 to ${FANOUT.accountRequestsPerSecond} (got ${postsPerSecond})`;
  }
  const windowSeconds =
    Math.min(settings.timeoutSeconds * 1000, LIMITS.integrationTimeoutMs) / 1000 -
    LIMITS.deliverySafetyMarginMs / 1000;
  const seconds = inProcessMax / postsPerSecond;
  if (inProcessMax > pageSize && seconds > windowSeconds) {
    return `fanout.inProcessMax ${inProcessMax} at ${postsPerSecond} posts/s takes ${seconds.toFixed(1)} s, more than the ${windowSeconds} s a fan-out may use within the function's ${settings.timeoutSeconds} s timeout: lower inProcessMax (larger fan-outs are sharded) or raise the budget`;
  }
  return undefined;
}

export const STAGE_SETTINGS: Readonly<Record<DeployedStage, StageSettings>> = {
  dev: {
    region: "eu-west-1",
    memoryMb: 256,
    timeoutSeconds: 10,
    logRetentionDays: 7,
    throttling: { rateLimit: 50, burstLimit: 100 },
    alarms: false,
    logLevel: "DEBUG",
    apiGatewayAccountRole: true,
    smokeBroadcast: true,
    fanout: FANOUT_DEFAULTS,
  },
  staging: {
    region: "eu-west-1",
    memoryMb: 512,
    timeoutSeconds: 15,
    logRetentionDays: 14,
    throttling: { rateLimit: 200, burstLimit: 400 },
    alarms: true,
    logLevel: "INFO",
    apiGatewayAccountRole: false,
    smokeBroadcast: true,
    fanout: FANOUT_DEFAULTS,
  },
  prod: {
    region: "eu-west-1",
    memoryMb: 1024,
    timeoutSeconds: 29,
    logRetentionDays: 90,
    throttling: { rateLimit: 1000, burstLimit: 2000 },
    alarms: true,
    logLevel: "INFO",
    apiGatewayAccountRole: false,
    smokeBroadcast: false,
    fanout: FANOUT_DEFAULTS,
  },
};
