import type { DeployedStage } from "../functions/contract.js";

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
  },
};
