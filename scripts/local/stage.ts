import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  ARTIFACTS,
  CONNECTIONS_PREFIX,
  ENV,
  FUNCTION_NAMES,
  FUNCTIONS,
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
import { AsyncInvocations } from "./lambda/async-invocations.js";
import { Invoker } from "./lambda/invoker.js";
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
  /** Gateway (WebSocket and Management API) port; 0 = any free port. */
  readonly port?: number;
  /** S3 port; defaults to 0 when `port` is 0, else DEFAULT_PORTS.s3. */
  readonly s3Port?: number;
  /** SNS port; defaults to 0 when `port` is 0, else DEFAULT_PORTS.sns. */
  readonly snsPort?: number;
  /** Where outputs and local.log go; default `.state/` (or $WEBSOCKET_STAGES_STATE_DIR). */
  readonly stateDir?: string;
  readonly idleTimeoutMs?: number;
  readonly maxConnectionMs?: number;
  /** False leaves the topic without its subscriber (published messages reach no one). */
  readonly topicSubscriber?: boolean;
  /** Waits before Lambda's retries of a failed subscriber invocation; default ASYNC_RETRY_DELAYS_MS. */
  readonly asyncRetryDelaysMs?: readonly number[];
  /** Folder of the bundles; default `dist/` of this repository. */
  readonly distDir?: string;
  /** Faults to inject (reliability runs); none by default. An injector can be re-armed while running. */
  readonly faults?: FaultPlan | FaultInjector;
  /** Receives every log entry as it is written (the terminal view). */
  readonly onLog?: (entry: LocalLogEntry) => void;
}

export interface RunningLocalStage {
  readonly outputs: StageOutputs;
  /** The JSON-lines log of invocations and function output. */
  readonly logFile: string;
  /** Closes every connection (1001), waits for their $disconnect, stops the servers. */
  stop(): Promise<void>;
}

export const DEFAULT_PORTS = { gateway: 3001, s3: 3002, sns: 3003 } as const;

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

/** How long the topic's subscriber may run per message; Lambda's own timeout is the stack's. */
const SUBSCRIBER_TIMEOUT_MS = 60_000;

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
function functionEnvironment(outputs: StageOutputs): Record<string, string | undefined> {
  return {
    [ENV.connectionsBucket]: outputs.connectionsBucket,
    [ENV.connectionsPrefix]: outputs.connectionsPrefix,
    [ENV.managementEndpoint]: outputs.managementEndpoint,
    [ENV.topicArn]: outputs.topicArn,
    [ENV.logLevel]: process.env[ENV.logLevel] ?? "INFO",
    AWS_REGION: LOCAL.region,
    AWS_DEFAULT_REGION: LOCAL.region,
    AWS_ACCESS_KEY_ID: "local",
    AWS_SECRET_ACCESS_KEY: "local",
    AWS_SESSION_TOKEN: undefined,
    AWS_PROFILE: undefined,
    AWS_ENDPOINT_URL_S3: outputs.endpoints?.s3,
    AWS_ENDPOINT_URL_SNS: outputs.endpoints?.sns,
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

  const running = await resolveStageOutputs(LOCAL_STAGE, stateLocation).catch(() => undefined);
  if (running !== undefined) {
    throw new ExpectedError(
      `A local stage is already running at ${running.websocketUrl} (recorded in ${stateDir}): stop it first, or delete its record (${LOCAL_STAGE}.json there) if it is not.`,
    );
  }

  const servers = { gateway: stageServer(), s3: stageServer(), sns: stageServer() };
  const stopServers = () => Promise.all(Object.values(servers).map(closeServer));
  let gatewayPort: number;
  let s3Port: number;
  let snsPort: number;
  try {
    gatewayPort = await listen(servers.gateway, host, port);
    s3Port = await listen(servers.s3, host, options.s3Port ?? (port === 0 ? 0 : DEFAULT_PORTS.s3));
    snsPort = await listen(
      servers.sns,
      host,
      options.snsPort ?? (port === 0 ? 0 : DEFAULT_PORTS.sns),
    );
  } catch (error) {
    await stopServers();
    throw error;
  }

  const base = (scheme: string, listening: number) => `${scheme}://${urlHost(host)}:${listening}`;
  const outputs: StageOutputs = {
    stage: LOCAL_STAGE,
    region: LOCAL.region,
    websocketUrl: `${base("ws", gatewayPort)}/${LOCAL_STAGE}`,
    managementEndpoint: `${base("http", gatewayPort)}/${LOCAL_STAGE}`,
    topicArn,
    connectionsBucket,
    connectionsPrefix: CONNECTIONS_PREFIX,
    endpoints: { s3: base("http", s3Port), sns: base("http", snsPort) },
  };

  const log = new LocalLog(localLogFile(stateDir), options.onLog);
  let invoker: Invoker;
  try {
    invoker = await Invoker.start({
      distDir: options.distDir ?? join(REPOSITORY_ROOT, ARTIFACTS.dir),
      log,
      env: functionEnvironment(outputs),
      // As the stack does: each function logs under its own name.
      functionEnv: (fn) => ({ [ENV.serviceName]: resourceNames(LOCAL_STAGE).functionName(fn) }),
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
  const subscriber = FUNCTION_NAMES.find((fn) => FUNCTIONS[fn].topicSubscriber);
  const subscription =
    options.topicSubscriber === false || subscriber === undefined
      ? undefined
      : new AsyncInvocations(faultyInvoker, subscriber, {
          trigger: "sns",
          timeoutMs: SUBSCRIBER_TIMEOUT_MS,
          ...(options.asyncRetryDelaysMs === undefined
            ? {}
            : { retryDelaysMs: options.asyncRetryDelaysMs }),
        });

  servers.gateway.on("request", connectionsListener(gateway, LOCAL_STAGE, faults));
  servers.gateway.on("upgrade", gateway.upgrade);
  servers.s3.on("request", s3Listener(store, faults));
  servers.sns.on(
    "request",
    snsListener(new Map([[topicArn, subscription && ((event) => subscription.send(event))]])),
  );

  await recordStageOutputs(outputs, { ...stateLocation, pid: process.pid });

  let stopping: Promise<void> | undefined;
  const stop = async () => {
    await gateway.close();
    await subscription?.drain();
    await stopServers();
    invoker.stop();
    await Promise.all([log.close(), clearStageOutputs(LOCAL_STAGE, stateLocation)]);
  };
  return {
    outputs,
    logFile: log.file,
    stop: () => {
      stopping ??= stop();
      return stopping;
    },
  };
}
