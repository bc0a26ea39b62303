import { type DeployedStage, FANOUT } from "../functions/contract.js";

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
   * `pageSize`: connection ids per shard (a fan-out of at most one shard stays in-process).
   */
  readonly fanout: { readonly postsPerSecond: number; readonly pageSize: number };
}

/** The fan-out settings every stage starts from (see StageSettings.fanout). */
const FANOUT_DEFAULTS = {
  postsPerSecond: FANOUT.postsPerSecondDefault,
  pageSize: FANOUT.pageSizeDefault,
} as const;

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
