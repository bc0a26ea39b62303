/**
 * The single source of truth shared by the functions, the stacks, the local stage and the smoke
 * tools. Every fact here is stated once; everything else imports it.
 */

export const PROJECT = "websocket-stages";

/** Stages deployed to AWS, in promotion order. */
export const DEPLOYED_STAGES = ["dev", "staging", "prod"] as const;
export type DeployedStage = (typeof DEPLOYED_STAGES)[number];

/** The stage that runs on one machine with no AWS account (`npm start`). */
export const LOCAL_STAGE = "local";
export type LocalStage = typeof LOCAL_STAGE;

export const STAGES = [LOCAL_STAGE, ...DEPLOYED_STAGES] as const;
export type Stage = (typeof STAGES)[number];

export function isStage(value: string): value is Stage {
  return (STAGES as readonly string[]).includes(value);
}

export function isDeployedStage(value: string): value is DeployedStage {
  return (DEPLOYED_STAGES as readonly string[]).includes(value);
}

// ---------------------------------------------------------------------------------------------
// Routes

/** API Gateway evaluates this against every inbound frame to pick a route. */
export const ROUTE_SELECTION_EXPRESSION = "$request.body.action";

/** The JSON path that ROUTE_SELECTION_EXPRESSION reads, for emulators of it. */
export const ROUTE_SELECTION_FIELD = "action";

export const ROUTE_KEYS = {
  connect: "$connect",
  disconnect: "$disconnect",
  broadcast: "broadcast",
  sendmessage: "sendmessage",
  /**
   * `{"action":"echo","message":X}`: the sender alone receives `{"message":X,"connectionId":id}`
   * (no fan-out): proves client → function → @connections, and tells a client its own id.
   */
  echo: "echo",
  default: "$default",
} as const;
export type RouteKey = (typeof ROUTE_KEYS)[keyof typeof ROUTE_KEYS];

// ---------------------------------------------------------------------------------------------
// Environment

/** Environment variables the functions read; the stack and the local stage set them. */
export const ENV = {
  /** Bucket holding one object per open connection. */
  connectionsBucket: "CONNECTIONS_BUCKET",
  /** Key prefix of those objects, ending in "/". */
  connectionsPrefix: "CONNECTIONS_PREFIX",
  /**
   * Base URL of the API Gateway Management API including the stage path, e.g.
   * https://{api-id}.execute-api.{region}.amazonaws.com/{stage}. Set from configuration rather
   * than derived from the event, so it stays right behind a custom domain.
   */
  managementEndpoint: "MANAGEMENT_ENDPOINT",
  /** ARN of the stage's SNS topic: deliveries that still fail are handed on through it. */
  topicArn: "TOPIC_ARN",
  /**
   * The fan-out worker the dispatchers (message, subscriber) invoke asynchronously with a page of
   * connection ids: the function's name on AWS, the bare contract name "fanout" on the local stage.
   */
  fanoutFunction: "FANOUT_FUNCTION_NAME",
  /** Connection ids per shard (one worker invocation). 1 to FANOUT.pageSizeMax. */
  fanoutPageSize: "FANOUT_PAGE_SIZE",
  /**
   * The largest fan-out delivered in-process by the function that received the message, with no
   * extra invocation; a larger one is sharded. 1 to FANOUT.inProcessMaxLimit (one page by default).
   */
  fanoutInProcessMax: "FANOUT_IN_PROCESS_MAX",
  /**
   * The stage's throttle budget: @connections posts per second the whole fan-out may spend,
   * split evenly across its shards (stacks/stages.ts `fanout.postsPerSecond`).
   */
  postsPerSecond: "FANOUT_POSTS_PER_SECOND",
  /** Powertools logger settings. */
  serviceName: "POWERTOOLS_SERVICE_NAME",
  logLevel: "POWERTOOLS_LOG_LEVEL",
} as const;
export type EnvName = (typeof ENV)[keyof typeof ENV];

// ---------------------------------------------------------------------------------------------
// Functions: which function serves which route or topic, what it reads, what it may call

export type FunctionName = "connect" | "disconnect" | "message" | "subscriber" | "fanout";

/** IAM actions, each with the resource it applies to (resolved by the stack). */
export type Permission =
  | { action: "s3:PutObject"; resource: "registry-objects" }
  | { action: "s3:DeleteObject"; resource: "registry-objects" }
  | { action: "s3:ListBucket"; resource: "registry-bucket" }
  | { action: "execute-api:ManageConnections"; resource: "connections" }
  | { action: "sns:Publish"; resource: "stage-topic" }
  | { action: "lambda:InvokeFunction"; resource: "fanout-function" };
export type IamAction = Permission["action"];

export interface FunctionSpec {
  readonly description: string;
  /** Route keys this function integrates with (empty for the SNS subscriber). */
  readonly routeKeys: readonly RouteKey[];
  /** True for the function subscribed to the stage's SNS topic. */
  readonly topicSubscriber: boolean;
  /**
   * True for the fan-out worker: invoked asynchronously by the dispatchers (message, subscriber)
   * with one shard each; Lambda retries a failed invoke and then keeps it in the stage's fan-out
   * failure queue (resourceNames().fanoutFailureQueue).
   */
  readonly shardWorker: boolean;
  /** Environment variables it reads at cold start. */
  readonly env: readonly EnvName[];
  /** Exactly the AWS actions its code calls: roles grant these and nothing more. */
  readonly permissions: readonly Permission[];
}

const REGISTRY_ENV = [ENV.connectionsBucket, ENV.connectionsPrefix] as const;
const DISPATCHER_ENV = [
  ...REGISTRY_ENV,
  ENV.managementEndpoint,
  ENV.topicArn,
  ENV.fanoutFunction,
  ENV.fanoutPageSize,
  ENV.fanoutInProcessMax,
  ENV.postsPerSecond,
] as const;
const WORKER_ENV = [...REGISTRY_ENV, ENV.managementEndpoint, ENV.topicArn] as const;
/**
 * What each function reads at cold start (its FUNCTIONS entry's `env`), kept with its literal
 * names so a function's configuration is typed by exactly the variables listed here.
 */
const FUNCTION_ENV = {
  connect: REGISTRY_ENV,
  disconnect: REGISTRY_ENV,
  message: DISPATCHER_ENV,
  subscriber: DISPATCHER_ENV,
  fanout: WORKER_ENV,
} as const satisfies Record<FunctionName, readonly EnvName[]>;
/** The environment variables function F reads. */
export type FunctionEnvName<F extends FunctionName> = (typeof FUNCTION_ENV)[F][number];
const DISPATCHER_PERMISSIONS: readonly Permission[] = [
  { action: "s3:ListBucket", resource: "registry-bucket" },
  { action: "s3:DeleteObject", resource: "registry-objects" },
  { action: "execute-api:ManageConnections", resource: "connections" },
  // Hands posts that still fail on to the topic as addressed messages (see REDELIVERY).
  { action: "sns:Publish", resource: "stage-topic" },
  // Hands each shard of a large fan-out to the worker (asynchronous invocation).
  { action: "lambda:InvokeFunction", resource: "fanout-function" },
];

export const FUNCTIONS: Readonly<Record<FunctionName, FunctionSpec>> = {
  connect: {
    description: "Registers a new connection in the registry ($connect).",
    routeKeys: [ROUTE_KEYS.connect],
    topicSubscriber: false,
    shardWorker: false,
    env: FUNCTION_ENV.connect,
    permissions: [{ action: "s3:PutObject", resource: "registry-objects" }],
  },
  disconnect: {
    description: "Removes a closed connection from the registry ($disconnect).",
    routeKeys: [ROUTE_KEYS.disconnect],
    topicSubscriber: false,
    shardWorker: false,
    env: FUNCTION_ENV.disconnect,
    permissions: [{ action: "s3:DeleteObject", resource: "registry-objects" }],
  },
  message: {
    description:
      "Handles client frames: broadcast, sendmessage, echo and everything else ($default).",
    routeKeys: [ROUTE_KEYS.broadcast, ROUTE_KEYS.sendmessage, ROUTE_KEYS.echo, ROUTE_KEYS.default],
    topicSubscriber: false,
    shardWorker: false,
    env: FUNCTION_ENV.message,
    permissions: DISPATCHER_PERMISSIONS,
  },
  subscriber: {
    description:
      "Fans every message published to the stage's SNS topic out to all connections, or to the ones it addresses.",
    routeKeys: [],
    topicSubscriber: true,
    shardWorker: false,
    env: FUNCTION_ENV.subscriber,
    permissions: DISPATCHER_PERMISSIONS,
  },
  fanout: {
    description:
      "Fan-out worker: posts one shard of a large fan-out at its share of the stage's throttle budget and removes the Gone connections it finds.",
    routeKeys: [],
    topicSubscriber: false,
    shardWorker: true,
    env: FUNCTION_ENV.fanout,
    // Post, delete the stale objects it found (DeleteObjects), and hand connections it still
    // could not reach on to the stage's topic as an addressed redelivery (REDELIVERY) — a shard
    // that reached some connections cannot be retried whole without sending them a second copy,
    // so without Publish those connections would be lost. Nothing else: it invokes nothing.
    permissions: [
      { action: "execute-api:ManageConnections", resource: "connections" },
      { action: "s3:DeleteObject", resource: "registry-objects" },
      { action: "sns:Publish", resource: "stage-topic" },
    ],
  },
};

export const FUNCTION_NAMES = Object.keys(FUNCTIONS) as FunctionName[];

/** The function integrated with a route key. */
export function functionForRoute(routeKey: RouteKey): FunctionName {
  const name = FUNCTION_NAMES.find((fn) => FUNCTIONS[fn].routeKeys.includes(routeKey));
  if (name === undefined) throw new Error(`No function serves route ${routeKey}`);
  return name;
}

/** Every route key some function serves, in declaration order. */
export const SERVED_ROUTE_KEYS: readonly RouteKey[] = FUNCTION_NAMES.flatMap(
  (fn) => FUNCTIONS[fn].routeKeys,
);

// ---------------------------------------------------------------------------------------------
// Registry

/** Default key prefix for connection objects; each key is prefix + base64url(connection id). */
export const CONNECTIONS_PREFIX = "connections/";

// ---------------------------------------------------------------------------------------------
// Limits (AWS quotas and the app's own bounds)

export const LIMITS = {
  /** API Gateway WebSocket message payload. Over it the gateway closes with 1009. */
  messageBytes: 128 * 1024,
  /** API Gateway WebSocket frame; bigger messages arrive in several frames. */
  frameBytes: 32 * 1024,
  /** SNS message size: larger than any WebSocket message can be. */
  snsMessageBytes: 256 * 1024,
  /** API Gateway closes a connection idle this long (1001 "Going away"). */
  idleTimeoutMs: 10 * 60 * 1000,
  /** API Gateway closes any connection after this long. */
  maxConnectionMs: 2 * 60 * 60 * 1000,
  /** ListObjectsV2 page size and DeleteObjects batch size. */
  s3PageSize: 1000,
  /** Concurrent PostToConnection calls per invocation. */
  deliveryConcurrency: 64,
  /** Attempts per PostToConnection, throttling (429) included. */
  deliveryMaxAttempts: 4,
  /** The longest an API Gateway integration may run. */
  integrationTimeoutMs: 29_000,
  /**
   * Time a fan-out leaves unused before its deadline (the Lambda timeout, or for the message
   * function the integration timeout, whichever comes first): enough to hand the rest on.
   */
  deliverySafetyMarginMs: 3_000,
  /** Later passes of one fan-out that retry the posts still failing with a retryable error. */
  deliveryRetryPasses: 3,
  /** Backoff before retry pass n: full jitter over min(cap, base * 2^(n-1)). */
  deliveryRetryBaseMs: 200,
  deliveryRetryCapMs: 2_000,
  /** Connection ids one addressed message may name (bigger sets are split into several). */
  addressedConnectionsMax: 1000,
  /** Longest connection id accepted in an addressed message (API Gateway's are 16 characters). */
  connectionIdMaxChars: 64,
} as const;

/**
 * Sharded fan-out (functions/lib/shards.ts dispatches, functions/handlers/fanout.ts works).
 *
 * A fan-out to more connections than the in-process maximum is listed by the function that
 * received the message and handed out in shards of at most `pageSize` ids, one asynchronous Lambda
 * invocation (InvocationType "Event") each; every shard posts at budget / shards posts per second.
 * A fan-out to at most the in-process maximum is posted by that function itself, with no extra
 * invocation (at the whole budget when it is larger than one shard).
 *
 * The worker's failure path, so nothing is lost and nothing is sent twice: it throws — so Lambda
 * retries it `maxRetries` times and then keeps the event, page and message, in the fan-out failure
 * queue — exactly when a retry cannot duplicate: when its invocation reached none of its
 * connections. A shard that reached some connections never throws (a retry would post to them
 * again); the ones it could not reach are named in its accounting line and counted in the
 * `undelivered` metric, which the stage alarms on.
 */
export const FANOUT = {
  /** Default shard size: one ListObjectsV2 page. */
  pageSizeDefault: 1000,
  /**
   * Largest shard: an addressed message's limit, so a shard's ids always fit one redelivery, and
   * the page plus a worst-case message stay under the asynchronous invoke payload limit.
   */
  pageSizeMax: 1000,
  /** Default in-process maximum: one page, so every fan-out larger than one shard is sharded. */
  inProcessMaxDefault: 1000,
  /**
   * Largest in-process maximum. One invocation posts an in-process fan-out alone, at no more than
   * the stage's budget and its own CPU share: at the default budget (1,000 posts/s) ten pages take
   * 10 s, and at 256 MB (0.145 vCPU: the fast poster's ~183 µs of CPU per post become ~1.3 ms)
   * about 13 s — already past a 10 s function timeout, and half of the message function's 29 s
   * integration window. 100,000 connections in-process would take minutes: far beyond any function's time
   * (the rest would be handed on as redeliveries of 1,000 ids each). Beyond this, shard.
   * stacks/stages.ts also checks each stage's value against its own budget and timeout.
   */
  inProcessMaxLimit: 10_000,
  /**
   * Default throttle budget: a tenth of the account's 10,000 requests per second, which every
   * REST, HTTP and WebSocket API and @connections call of the account and region shares.
   */
  postsPerSecondDefault: 1000,
  /** API Gateway's account-level throttle (requests per second, burst): the ceiling of any budget. */
  accountRequestsPerSecond: 10_000,
  accountBurst: 5_000,
  /** Lambda's payload limit for asynchronous invocations (Invoke with InvocationType "Event"). */
  asyncPayloadBytes: 1024 * 1024,
  /** Lambda's retries of a failed asynchronous invoke before the on-failure destination. */
  maxRetries: 2,
  /** A shard older than this is not delivered (the redelivery policy's age limit). */
  maxEventAgeSeconds: 10 * 60,
  /** Worker timeout: a shard runs for about connections / budget seconds (Lambda's maximum). */
  workerTimeoutSeconds: 900,
  /** Concurrent Invoke calls while dispatching. */
  dispatchConcurrency: 16,
  /** Attempts per Invoke call, throttling (429) and server errors included. */
  invokeMaxAttempts: 3,
} as const;

/** The worker's EMF metrics (Powertools Metrics): namespace, names, and its service dimension. */
export const FANOUT_METRICS = {
  namespace: PROJECT,
  delivered: "FanoutDelivered",
  gone: "FanoutGone",
  failed: "FanoutFailed",
  /** Still failing after the worker's retry passes: handed on to the topic for redelivery. */
  handedOn: "FanoutHandedOn",
  /** Neither delivered nor handed on (the Publish failed too): lost, and alarmed on. */
  undelivered: "FanoutUndelivered",
} as const;

/** A connection id as API Gateway writes one: base64 characters (`+/=`, or `-_` base64url). */
export const CONNECTION_ID_PATTERN = /^[A-Za-z0-9+/=_-]+$/;

/**
 * SNS message attributes the subscriber reads. Without `connectionIds` a message goes to every
 * registered connection; with it, only to those ids (no registry lookup: @connections decides,
 * and an id it answers Gone for is removed from the registry).
 */
export const MESSAGE_ATTRIBUTES = {
  /** String.Array: a JSON array of connection ids, e.g. ["L0SM9cOFvHcCIhw="]. */
  connectionIds: "connectionIds",
  /** Number: the delivery attempt a redelivered copy is (the original publish is attempt 1). */
  deliveryAttempt: "deliveryAttempt",
  /** Number: epoch milliseconds of the message's first delivery attempt. */
  firstAttemptAt: "firstAttemptAt",
} as const;

/**
 * How long a message stays worth delivering to a connection whose posts keep failing with a
 * retryable error (throttling, 5xx, network) after the SDK's retries and the fan-out's own
 * retry passes. Each time, the still-failing ids are published back to the stage's topic as an
 * addressed message with the next attempt number; past maxAttempts (with some progress made) or
 * maxAgeMs, the subscriber throws for that addressed message, so Lambda's retries and then the
 * stack's on-failure queue keep it with its ids. Gone and too-large are final, never retried.
 */
export const REDELIVERY = {
  maxAttempts: 5,
  maxAgeMs: 10 * 60 * 1000,
} as const;

/** WebSocket close codes the gateway uses. */
export const CLOSE_CODES = {
  goingAway: 1001,
  messageTooBig: 1009,
} as const;

// ---------------------------------------------------------------------------------------------
// Artifacts: what `npm run bundle` produces and what the stacks and the local stage consume

export const ARTIFACTS = {
  /** Folder of the bundles, relative to the repository root. */
  dir: "dist",
  /** Each function's bundle is dist/<function>/<bundleFile>. */
  bundleFile: "index.mjs",
  /** Each function's zip is dist/<function>.zip. */
  zipExtension: ".zip",
  /** dist/manifest.json: see BundleManifest. */
  manifestFile: "manifest.json",
  /** Lambda handler setting for bundleFile's export `handler`. */
  handler: "index.handler",
  runtime: "nodejs22.x",
  architecture: "arm64",
} as const;

/** `zip` is relative to the manifest's folder; `sha256` is the zip's hex digest; `bytes` its size. */
export interface BundleManifest {
  readonly functions: Readonly<
    Record<FunctionName, { readonly zip: string; readonly sha256: string; readonly bytes: number }>
  >;
}

// ---------------------------------------------------------------------------------------------
// Stage outputs: what `npm run outputs -- <stage> --json` prints for every stage

export interface StageOutputs {
  readonly stage: Stage;
  readonly region: string;
  /** wss://… (or ws:// locally) including the stage path. */
  readonly websocketUrl: string;
  /** https://… (or http:// locally) including the stage path. */
  readonly managementEndpoint: string;
  readonly topicArn: string;
  readonly connectionsBucket: string;
  readonly connectionsPrefix: string;
  /** Only for the local stage: where its S3, SNS and Lambda Invoke API stand-ins listen. */
  readonly endpoints?: { readonly s3: string; readonly sns: string; readonly lambda: string };
}

/** Terraform output names of a deployed stack (the same keys as StageOutputs). */
export const STACK_OUTPUTS = [
  "region",
  "websocketUrl",
  "managementEndpoint",
  "topicArn",
  "connectionsBucket",
  "connectionsPrefix",
] as const satisfies readonly (keyof StageOutputs)[];

/** Name of a stage's Terraform stack, and so of its folder under the synth output. */
export function stackName(stage: DeployedStage): string {
  return `${PROJECT}-${stage}`;
}

/** Folder (relative to the repository root) of the synthesized stacks. */
export const SYNTH_DIR = "cdktf.out";

/** A deployed stage's AWS resource names. */
export function resourceNames(stage: Stage) {
  const base = `${PROJECT}-${stage}`;
  return {
    api: base,
    topic: base,
    functionName: (fn: FunctionName) => `${base}-${fn}`,
    /** The function's execution role. */
    functionRole: (fn: FunctionName) => `${base}-${fn}`,
    functionLogGroup: (fn: FunctionName) => `/aws/lambda/${base}-${fn}`,
    accessLogGroup: `/aws/apigateway/${base}`,
    /** The registry bucket's name is this prefix plus a suffix S3 names unique at creation. */
    registryBucketPrefix: `${base}-`,
    /** The queue receiving the topic subscriber's failed asynchronous invokes. */
    failureQueue: `${base}-failures`,
    /** The queue receiving the fan-out worker's failed asynchronous invokes (shards). */
    fanoutFailureQueue: `${base}-fanout-failures`,
    functionErrorsAlarm: (fn: FunctionName) => `${base}-${fn}-errors`,
    undeliveredAlarm: `${base}-undelivered`,
    /** A shard is in the fan-out failure queue. */
    fanoutFailedAlarm: `${base}-fanout-failed`,
    /** A shard left connections it could not reach (FANOUT_METRICS.undelivered). */
    fanoutUndeliveredAlarm: `${base}-fanout-undelivered`,
  };
}

/**
 * Folder (relative to the repository root, gitignored) for per-machine state: the running local
 * stage's outputs and the outputs each deploy recorded. `WEBSOCKET_STAGES_STATE_DIR` overrides it,
 * so tests can run a local stage without touching a developer's.
 */
export const STATE_DIR = ".state";
export const STATE_DIR_ENV = "WEBSOCKET_STAGES_STATE_DIR";

/**
 * Environment variables that put a deployed stage's Terraform state in S3 (one key per stage,
 * native locking); without the bucket the state stays in a local backend. The GitHub workflows
 * set them from repository variables of the same names.
 */
export const STATE_BACKEND_ENV = {
  bucket: "TF_STATE_BUCKET",
  /** Region of the bucket, when it differs from the stage's. */
  region: "TF_STATE_REGION",
} as const;

/** Fixed identity of the local stage. */
export const LOCAL = {
  region: "us-east-1",
  accountId: "000000000000",
} as const;
