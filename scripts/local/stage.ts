import { once } from "node:events";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  ARTIFACTS,
  CONNECTIONS_PREFIX,
  ENV,
  type EnvName,
  FANOUT,
  FUNCTION_NAMES,
  FUNCTIONS,
  type FunctionName,
  LIMITS,
  LOCAL,
  LOCAL_STAGE,
  PROJECT,
  resourceNames,
  STATE_DIR_ENV,
  type StageOutputs,
} from "../../functions/contract.js";
import { ExpectedError } from "../../smoke/errors.js";
import {
  clearStageOutputs,
  stateDir as defaultStateDir,
  recordStageOutputs,
  resolveStageOutputs,
} from "../../smoke/outputs.js";
import { FaultInjector, type FaultPlan } from "./faults.js";
import { connectionsListener } from "./gateway/connections.js";
import { Gateway } from "./gateway/gateway.js";
import {
  generateStageCredentials,
  isLoopbackHost,
  LOOPBACK_CREDENTIALS,
  type SignatureSettings,
  type StageCredentials,
} from "./http/request-signature.js";
import { type AsyncFailureRecord, AsyncInvocations } from "./lambda/async-invocations.js";
import { invokeApiListener } from "./lambda/invoke-api.js";
import { functionArn, Invoker } from "./lambda/invoker.js";
import { LocalLog, type LocalLogEntry } from "./local-log.js";
import { s3Listener } from "./s3/listener.js";
import { S3Store } from "./s3/store.js";
import { snsListener } from "./sns/listener.js";

/**
 * The local stage: the stage's API Gateway (WebSocket + @connections), S3 and SNS on 127.0.0.1,
 * invoking the built bundles with the environment the stack gives them. Topology — which function
 * serves which route, which one the topic invokes — comes from the contract.
 */

export interface LocalStageOptions {
  /** Interface to bind; default 127.0.0.1. */
  readonly host?: string;
  /**
   * Accept only the stage's own credentials (random for this run) and verify every request
   * signature. Default: true when `host` is not a loopback address, where other machines can
   * reach the stage.
   */
  readonly strictSignatures?: boolean;
  /** Gateway (WebSocket and Management API) port; 0 = any free port. */
  readonly port?: number;
  /** S3 port; defaults to 0 when `port` is 0, else DEFAULT_PORTS.s3. */
  readonly s3Port?: number;
  /** SNS port; defaults to 0 when `port` is 0, else DEFAULT_PORTS.sns. */
  readonly snsPort?: number;
  /** Lambda Invoke API port; defaults to 0 when `port` is 0, else DEFAULT_PORTS.lambda. */
  readonly lambdaPort?: number;
  /** Where outputs and local.log go; default `.state/` (or $WEBSOCKET_STAGES_STATE_DIR). */
  readonly stateDir?: string;
  readonly idleTimeoutMs?: number;
  readonly maxConnectionMs?: number;
  /** False leaves the topic without its subscriber (published messages reach no one). */
  readonly topicSubscriber?: boolean;
  /** Waits before Lambda's retries of a failed asynchronous invocation; default ASYNC_RETRY_DELAYS_MS. */
  readonly asyncRetryDelaysMs?: readonly number[];
  /**
   * How long an invocation that API Gateway's 29 s do not bound may run (the topic's subscriber,
   * the Invoke API's); default FUNCTION_TIMEOUT_MS.
   */
  readonly functionTimeoutMs?: number;
  /**
   * Values of the functions' environment variables that replace what the stage would set, for
   * every function (e.g. a bench running the same stage with another FANOUT_PAGE_SIZE).
   */
  readonly functionEnvironment?: Partial<Record<EnvName, string>>;
  /** Folder of the bundles; default `dist/` of this repository. */
  readonly distDir?: string;
  /** Faults to inject (reliability runs); none by default. An injector can be re-armed while running. */
  readonly faults?: FaultPlan | FaultInjector;
  /** Receives every log entry as it is written (the terminal view). */
  readonly onLog?: (entry: LocalLogEntry) => void;
}

/** How the stage checks request signatures, and where a client finds its credentials. */
export interface StageSignatures {
  readonly strict: boolean;
  /** The access key id its functions sign with (never the secret). */
  readonly accessKeyId: string;
  /**
   * Strict only: an AWS shared-credentials file (profile STAGE_CREDENTIALS_PROFILE, mode 0600) in
   * the state directory holding the stage's credentials; deleted when the stage stops.
   */
  readonly credentialsFile?: string;
}

/** The local stage's outputs always name where its stand-ins listen, the Lambda API included. */
export type LocalStageOutputs = StageOutputs & {
  readonly endpoints: { readonly s3: string; readonly sns: string; readonly lambda: string };
};

export interface RunningLocalStage {
  readonly outputs: LocalStageOutputs;
  readonly signatures: StageSignatures;
  /**
   * The on-failure destination of every asynchronous invocation (SNS's, the Invoke API's Event):
   * what Lambda would send it once an event's retries are exhausted, oldest first.
   */
  readonly asyncFailures: readonly AsyncFailureRecord[];
  /** The JSON-lines log of invocations and function output. */
  readonly logFile: string;
  /** Closes every connection (1001), waits for their $disconnect, stops the servers. */
  stop(): Promise<void>;
}

export const DEFAULT_PORTS = { gateway: 3001, s3: 3002, sns: 3003, lambda: 3004 } as const;

/** The profile name in a strict stage's credentials file. */
export const STAGE_CREDENTIALS_PROFILE = `${PROJECT}-${LOCAL_STAGE}`;

export function stageCredentialsFile(stateDir: string): string {
  return join(stateDir, `${LOCAL_STAGE}-credentials`);
}

/**
 * Writes the stage's credentials where the AWS CLI, the SDKs and boto3 read them
 * (AWS_SHARED_CREDENTIALS_FILE + AWS_PROFILE), readable by this user only: a client on this
 * machine uses the file as it is, one elsewhere gets a copy from the person running the stage.
 */
async function writeCredentialsFile(file: string, credentials: StageCredentials): Promise<void> {
  await rm(file, { force: true });
  await writeFile(
    file,
    [
      `# The ${LOCAL_STAGE} stage's credentials while it runs (process ${process.pid}); deleted when it stops.`,
      `[${STAGE_CREDENTIALS_PROFILE}]`,
      `aws_access_key_id = ${credentials.accessKeyId}`,
      `aws_secret_access_key = ${credentials.secretAccessKey}`,
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
}

/**
 * How long the stage's servers keep an idle keep-alive connection. The SDK clients in the
 * functions keep their sockets with no idle limit of their own, so a server that closes first
 * (Node's default is 5 s) races their next request on that socket: under load posts failed with
 * ECONNRESET until the SDK's retries ran out. AWS's endpoints keep idle connections far longer.
 */
export const SERVER_KEEP_ALIVE_MS = 120_000;

function stageServer(): Server {
  const server = createServer();
  server.keepAliveTimeout = SERVER_KEEP_ALIVE_MS;
  // Node measures headersTimeout from a request's first byte; it must outlast keep-alive idling.
  server.headersTimeout = SERVER_KEEP_ALIVE_MS + 1_000;
  return server;
}

/**
 * How long the topic's subscriber and a function invoked through the Invoke API may run; on AWS
 * each function's timeout is the stack's.
 */
export const FUNCTION_TIMEOUT_MS = 60_000;

const REPOSITORY_ROOT = fileURLToPath(new URL("../../", import.meta.url));

export function localLogFile(stateDir: string): string {
  return join(stateDir, "local.log");
}

async function listen(server: Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException) => {
      reject(
        new PortUnavailableError(
          error.code === "EADDRINUSE"
            ? `Port ${port} on ${host} is in use: stop what holds it or choose other ports (see \`npm start -- --help\`).`
            : `Cannot listen on ${host}:${port}: ${error.message}`,
        ),
      );
    };
    server.once("error", failed);
    server.listen(port, host, () => {
      server.off("error", failed);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

export class PortUnavailableError extends ExpectedError {
  override readonly name = "PortUnavailableError";
}

async function closeServer(server: Server): Promise<void> {
  if (!server.listening) return;
  const closed = once(server, "close");
  server.close();
  server.closeAllConnections();
  await closed;
}

function urlHost(host: string): string {
  const reachable = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
  return reachable.includes(":") ? `[${reachable}]` : reachable;
}

/**
 * What the stack sets for the functions (contract ENV), plus what Lambda provides (region,
 * credentials) and the endpoints that point the SDK clients at this stage.
 */
export function functionEnvironment(
  outputs: LocalStageOutputs,
  credentials: StageCredentials,
): Record<string, string | undefined> {
  return {
    [ENV.connectionsBucket]: outputs.connectionsBucket,
    [ENV.connectionsPrefix]: outputs.connectionsPrefix,
    [ENV.managementEndpoint]: outputs.managementEndpoint,
    [ENV.topicArn]: outputs.topicArn,
    // The worker by its bare contract name; the local Lambda Invoke API (helper local-workers)
    // accepts it. Until that API exists, only fan-outs of one shard or less work locally.
    [ENV.fanoutFunction]: "fanout",
    [ENV.fanoutPageSize]: String(FANOUT.pageSizeDefault),
    [ENV.fanoutInProcessMax]: String(FANOUT.inProcessMaxDefault),
    [ENV.postsPerSecond]: String(FANOUT.postsPerSecondDefault),
    [ENV.logLevel]: process.env[ENV.logLevel] ?? "INFO",
    AWS_REGION: LOCAL.region,
    AWS_DEFAULT_REGION: LOCAL.region,
    // The stage's own key: its endpoints verify every signature made with it.
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_SESSION_TOKEN: undefined,
    AWS_PROFILE: undefined,
    AWS_ENDPOINT_URL_S3: outputs.endpoints.s3,
    AWS_ENDPOINT_URL_SNS: outputs.endpoints.sns,
    AWS_ENDPOINT_URL_LAMBDA: outputs.endpoints.lambda,
    AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: undefined,
    // The SDK warns once per bundle when this machine's Node is older than 22; the functions
    // themselves run on the nodejs22.x runtime, so the warning says nothing about them.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  };
}

export async function startLocalStage(options: LocalStageOptions = {}): Promise<RunningLocalStage> {
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? DEFAULT_PORTS.gateway;
  const stateDir = resolve(options.stateDir ?? defaultStateDir());
  const stateLocation = { env: { [STATE_DIR_ENV]: stateDir } };
  const names = resourceNames(LOCAL_STAGE);
  const connectionsBucket = `${PROJECT}-${LOCAL_STAGE}-connections`;
  const topicArn = `arn:aws:sns:${LOCAL.region}:${LOCAL.accountId}:${names.topic}`;
  const strict = options.strictSignatures ?? !isLoopbackHost(host);
  // Reachable from other machines, the stage must not accept a key everyone knows.
  const credentials = strict ? generateStageCredentials() : LOOPBACK_CREDENTIALS;
  const signatures: SignatureSettings = { strict, stageCredentials: credentials };
  const credentialsFile = strict ? stageCredentialsFile(stateDir) : undefined;

  const running = await resolveStageOutputs(LOCAL_STAGE, stateLocation).catch(() => undefined);
  if (running !== undefined) {
    throw new ExpectedError(
      `A local stage is already running at ${running.websocketUrl} (recorded in ${stateDir}): stop it first, or delete its record (${LOCAL_STAGE}.json there) if it is not.`,
    );
  }

  const servers = {
    gateway: stageServer(),
    s3: stageServer(),
    sns: stageServer(),
    lambda: stageServer(),
  };
  const stopServers = () => Promise.all(Object.values(servers).map(closeServer));
  let gatewayPort: number;
  let s3Port: number;
  let snsPort: number;
  let lambdaPort: number;
  try {
    gatewayPort = await listen(servers.gateway, host, port);
    s3Port = await listen(servers.s3, host, options.s3Port ?? (port === 0 ? 0 : DEFAULT_PORTS.s3));
    snsPort = await listen(
      servers.sns,
      host,
      options.snsPort ?? (port === 0 ? 0 : DEFAULT_PORTS.sns),
    );
    lambdaPort = await listen(
      servers.lambda,
      host,
      options.lambdaPort ?? (port === 0 ? 0 : DEFAULT_PORTS.lambda),
    );
  } catch (error) {
    await stopServers();
    throw error;
  }

  const base = (scheme: string, listening: number) => `${scheme}://${urlHost(host)}:${listening}`;
  const outputs: LocalStageOutputs = {
    stage: LOCAL_STAGE,
    region: LOCAL.region,
    websocketUrl: `${base("ws", gatewayPort)}/${LOCAL_STAGE}`,
    managementEndpoint: `${base("http", gatewayPort)}/${LOCAL_STAGE}`,
    topicArn,
    connectionsBucket,
    connectionsPrefix: CONNECTIONS_PREFIX,
    endpoints: {
      s3: base("http", s3Port),
      sns: base("http", snsPort),
      lambda: base("http", lambdaPort),
    },
  };

  const log = new LocalLog(localLogFile(stateDir), options.onLog);
  let invoker: Invoker;
  try {
    invoker = await Invoker.start({
      distDir: options.distDir ?? join(REPOSITORY_ROOT, ARTIFACTS.dir),
      log,
      env: functionEnvironment(outputs, credentials),
      // As the stack does: each function logs under its own name. The caller's overrides win.
      functionEnv: (fn) => ({
        [ENV.serviceName]: resourceNames(LOCAL_STAGE).functionName(fn),
        ...options.functionEnvironment,
      }),
    });
  } catch (error) {
    await Promise.all([stopServers(), log.close()]);
    throw error;
  }

  const faults =
    options.faults instanceof FaultInjector
      ? options.faults
      : new FaultInjector(options.faults ?? {});
  // An injected failure stands in for the function: it never runs, and the caller sees what
  // Lambda reports for a function that threw or timed out.
  const faultyInvoker: Pick<Invoker, "invoke"> = {
    invoke: (fn, event, invokeOptions) => {
      const fault = faults.invocation();
      if (fault === undefined) return invoker.invoke(fn, event, invokeOptions);
      log.write({
        type: "invocation",
        function: fn,
        requestId: "injected-fault",
        trigger: invokeOptions.trigger,
        ...(invokeOptions.connectionId === undefined
          ? {}
          : { connectionId: invokeOptions.connectionId }),
        durationMs: 0,
        result: fault === "throws" ? "error" : "timeout",
        error: `Fault injected by the local stage: the function ${fault === "throws" ? "threw" : "timed out"}`,
      });
      return Promise.resolve({
        ok: false,
        error: "Error: injected fault",
        timedOut: fault === "timeout",
      });
    },
  };
  const store = new S3Store();
  store.createBucket(connectionsBucket);
  const gateway = new Gateway({
    api: { apiId: "localstage", stage: LOCAL_STAGE, domainName: `${urlHost(host)}:${gatewayPort}` },
    invoker: faultyInvoker,
    log,
    idleTimeoutMs: options.idleTimeoutMs ?? LIMITS.idleTimeoutMs,
    maxConnectionMs: options.maxConnectionMs ?? LIMITS.maxConnectionMs,
  });
  const functionTimeoutMs = options.functionTimeoutMs ?? FUNCTION_TIMEOUT_MS;
  const asyncFailures: AsyncFailureRecord[] = [];
  // Lambda's on-failure destination (an SQS queue on AWS): kept, and said loudly in the log.
  const failureDestination = (fn: FunctionName) => (record: AsyncFailureRecord) => {
    asyncFailures.push(record);
    log.write({
      type: "log",
      function: fn,
      requestId: record.requestContext.requestId,
      stream: "stderr",
      line: JSON.stringify({
        level: "ERROR",
        message: `Local stage: retries exhausted after ${record.requestContext.approximateInvokeCount} attempts; the event went to the failure destination`,
        errorType: record.responsePayload.errorType,
        errorMessage: record.responsePayload.errorMessage,
      }),
    });
  };
  const asyncInvocations = (fn: FunctionName, trigger: string) =>
    new AsyncInvocations(faultyInvoker, fn, {
      trigger,
      timeoutMs: functionTimeoutMs,
      functionArn: functionArn(fn),
      onFailure: failureDestination(fn),
      ...(options.asyncRetryDelaysMs === undefined
        ? {}
        : { retryDelaysMs: options.asyncRetryDelaysMs }),
    });
  const subscriber = FUNCTION_NAMES.find((fn) => FUNCTIONS[fn].topicSubscriber);
  const subscription =
    options.topicSubscriber === false || subscriber === undefined
      ? undefined
      : asyncInvocations(subscriber, "sns");
  const invokeQueues = new Map(FUNCTION_NAMES.map((fn) => [fn, asyncInvocations(fn, "invoke")]));

  servers.gateway.on("request", connectionsListener(gateway, LOCAL_STAGE, faults, signatures));
  servers.gateway.on("upgrade", gateway.upgrade);
  servers.s3.on("request", s3Listener(store, faults, signatures));
  servers.sns.on(
    "request",
    snsListener(
      new Map([[topicArn, subscription && ((event) => void subscription.send(event))]]),
      signatures,
    ),
  );
  servers.lambda.on(
    "request",
    invokeApiListener(
      {
        invoke: (fn, event, requestId) =>
          faultyInvoker.invoke(fn, event, {
            trigger: "invoke",
            timeoutMs: functionTimeoutMs,
            requestId,
          }),
        queue: (fn, event) => (invokeQueues.get(fn) as AsyncInvocations).send(event),
      },
      signatures,
    ),
  );

  if (credentialsFile !== undefined) {
    await mkdir(stateDir, { recursive: true });
    await writeCredentialsFile(credentialsFile, credentials);
  }
  await recordStageOutputs(outputs, { ...stateLocation, pid: process.pid });

  let stopping: Promise<void> | undefined;
  const stop = async () => {
    await gateway.close();
    await Promise.all([subscription, ...invokeQueues.values()].map((queue) => queue?.drain()));
    await stopServers();
    await invoker.stop();
    await Promise.all([
      log.close(),
      clearStageOutputs(LOCAL_STAGE, stateLocation),
      credentialsFile === undefined ? undefined : rm(credentialsFile, { force: true }),
    ]);
  };
  return {
    outputs,
    signatures: {
      strict,
      accessKeyId: credentials.accessKeyId,
      ...(credentialsFile === undefined ? {} : { credentialsFile }),
    },
    logFile: log.file,
    asyncFailures,
    stop: () => {
      stopping ??= stop();
      return stopping;
    },
  };
}
