import { isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ARTIFACTS, LIMITS, LOCAL_STAGE, STATE_DIR } from "../../functions/contract.js";
import { parseCommandLine, runCommand, UsageError } from "../cli.js";
import { millisecondsOption } from "../milliseconds-option.js";
import { FaultPlanError, parseFaultPlan } from "./faults.js";
import { LOOPBACK_CREDENTIALS } from "./http/request-signature.js";
import { buildBundles, bundlesOutdated } from "./lambda/bundles.js";
import { renderLogEntry } from "./log-view.js";
import {
  DEFAULT_PORTS,
  type RunningLocalStage,
  STAGE_CREDENTIALS_PROFILE,
  startLocalStage,
} from "./stage.js";

const usage = `
Usage: npm start [-- options]

Runs the local stage on this machine, no AWS account needed: a WebSocket gateway with the
Management API, S3, SNS and Lambda's Invoke API, invoking the same bundles (dist/) that deploy to
AWS, each function in execution environments of its own (worker threads). Builds the
bundles first when they are missing or older than functions/. Ctrl-C stops it.

  --host <address>     interface to bind            (env WEBSOCKET_STAGES_HOST, default 127.0.0.1);
                       on any other than loopback the stage is reachable from other machines
                       and accepts only its own credentials (see Signatures below)
  --port <n>           WebSocket + @connections     (env WEBSOCKET_STAGES_PORT, default ${DEFAULT_PORTS.gateway})
  --s3-port <n>        S3                           (env WEBSOCKET_STAGES_S3_PORT, default ${DEFAULT_PORTS.s3})
  --sns-port <n>       SNS                          (env WEBSOCKET_STAGES_SNS_PORT, default ${DEFAULT_PORTS.sns})
  --lambda-port <n>    Lambda Invoke API            (env WEBSOCKET_STAGES_LAMBDA_PORT, default ${DEFAULT_PORTS.lambda})
                       0 picks any free port.
  --idle-timeout <ms>  close a connection without traffic for <ms> with 1001 Going away
                       (default ${LIMITS.idleTimeoutMs}: API Gateway's 10 minutes)
  --max-connection <ms>
                       close every connection <ms> after it opened, with 1001
                       (default ${LIMITS.maxConnectionMs}: API Gateway's 2 hours)
  --fault <plan>       inject faults, e.g. gone=0.1,throttle=0.05,error=0.05,slow=200,
                       s3=0.1,throws=0.05,timeout=0.05 (shares 0–1; slow in ms); none by default
  --dist-dir <dir>     run the bundles in <dir> (e.g. a downloaded CI build) instead of dist/;
                       they are not rebuilt
  --json               print the outputs and every log entry as JSON lines

Signatures: @connections, S3, SNS and Lambda require SigV4-signed requests, as AWS does (an unsigned
request gets AWS's 403). On 127.0.0.1 any credentials are accepted, but requests made with the
stage's own key (local / local, what its functions use) must verify. On another --host, only
the stage's own credentials, fresh each run, are accepted and every signature is verified; they
are written to ${STATE_DIR}/${LOCAL_STAGE}-credentials (an AWS credentials file, profile ${STAGE_CREDENTIALS_PROFILE}).

Examples: npm start -- --port 4001 --s3-port 4002 --sns-port 4003 --lambda-port 4004
          npm start -- --idle-timeout 30000 --max-connection 120000
`;

/** Interrupts closer together than this are one Ctrl-C, relayed by the processes in between. */
const REPEATED_INTERRUPT_MS = 1000;

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

function portOption(flag: string, value: string | undefined, envName: string): number | undefined {
  const text = value ?? process.env[envName];
  if (text === undefined || text === "") return undefined;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    const source = value === undefined ? `${envName}=${text}` : `--${flag} ${text}`;
    throw new UsageError(
      `${source} is not a port: use a whole number from 0 to 65535.\n\n${usage.trim()}`,
    );
  }
  return port;
}

/**
 * What the banner says about request signatures: one line on loopback; on another interface a
 * warning that cannot be missed, with where a client finds the credentials (never the secret).
 */
function signatureLines(stage: RunningLocalStage, host: string, colour: boolean): string[] {
  const { signatures, outputs } = stage;
  if (!signatures.strict) {
    return [
      `  Signatures SigV4 required; any credentials accepted on ${host} (the stage's own, ${signatures.accessKeyId}, verified)`,
    ];
  }
  const file = shortPath(signatures.credentialsFile ?? "");
  const loud = (text: string) => (colour ? `\u001b[1;33m${text}\u001b[0m` : text);
  return [
    loud(`  !! STRICT SIGNATURES: bound to ${host}, reachable from other machines.`),
    loud(
      `  !! Only this run's credentials (access key ${signatures.accessKeyId}) are accepted; every request signature is verified.`,
    ),
    `  Credentials ${file} (AWS credentials file, profile ${STAGE_CREDENTIALS_PROFILE}; readable by you only)`,
    `             e.g. AWS_SHARED_CREDENTIALS_FILE=${file} AWS_PROFILE=${STAGE_CREDENTIALS_PROFILE} aws sns publish --endpoint-url ${outputs.endpoints?.sns} --topic-arn ${outputs.topicArn} --message hi`,
    `             npm run smoke and send-data sign as ${LOOPBACK_CREDENTIALS.accessKeyId} / ${LOOPBACK_CREDENTIALS.secretAccessKey}: this stage refuses them`,
  ];
}

/** Relative to the working directory when inside it. */
function shortPath(path: string): string {
  const shown = relative(process.cwd(), path);
  return shown.startsWith("..") || isAbsolute(shown) ? path : shown;
}

runCommand(async () => {
  const args = parseCommandLine(process.argv.slice(2), {
    usage,
    options: {
      host: { type: "string" },
      port: { type: "string" },
      "s3-port": { type: "string" },
      "sns-port": { type: "string" },
      "lambda-port": { type: "string" },
      "dist-dir": { type: "string" },
      "idle-timeout": { type: "string" },
      fault: { type: "string" },
      "max-connection": { type: "string" },
      json: { type: "boolean" },
    },
  });
  if (args === undefined) return 0;
  const port = portOption("port", args.values.port, "WEBSOCKET_STAGES_PORT");
  const s3Port = portOption("s3-port", args.values["s3-port"], "WEBSOCKET_STAGES_S3_PORT");
  const snsPort = portOption("sns-port", args.values["sns-port"], "WEBSOCKET_STAGES_SNS_PORT");
  const lambdaPort = portOption(
    "lambda-port",
    args.values["lambda-port"],
    "WEBSOCKET_STAGES_LAMBDA_PORT",
  );
  const host = args.values.host ?? (process.env.WEBSOCKET_STAGES_HOST || undefined);
  const json = args.values.json === true;
  const idleTimeoutMs = millisecondsOption(
    "--idle-timeout",
    args.values["idle-timeout"],
    LIMITS.idleTimeoutMs,
    usage,
  );
  const maxConnectionMs = millisecondsOption(
    "--max-connection",
    args.values["max-connection"],
    LIMITS.maxConnectionMs,
    usage,
  );

  let faults: ReturnType<typeof parseFaultPlan> = {};
  try {
    faults = parseFaultPlan(args.values.fault ?? "");
  } catch (error) {
    if (!(error instanceof FaultPlanError)) throw error;
    throw new UsageError(`--fault: ${error.message}\n\n${usage.trim()}`);
  }
  const givenDist = args.values["dist-dir"];
  const distDir = givenDist === undefined ? join(ROOT, ARTIFACTS.dir) : resolve(givenDist);
  const outdated = givenDist === undefined ? await bundlesOutdated(ROOT, distDir) : undefined;
  if (outdated !== undefined) {
    process.stderr.write(`Building the bundles (${outdated}): npm run bundle …\n`);
    await buildBundles(ROOT);
  }

  const started = performance.now();
  const colour = process.stdout.isTTY && process.env.NO_COLOR === undefined;
  const stage = await startLocalStage({
    distDir,
    idleTimeoutMs,
    maxConnectionMs,
    faults,
    ...(host === undefined ? {} : { host }),
    ...(port === undefined ? {} : { port }),
    ...(s3Port === undefined ? {} : { s3Port }),
    ...(snsPort === undefined ? {} : { snsPort }),
    ...(lambdaPort === undefined ? {} : { lambdaPort }),
    onLog: (entry) =>
      process.stdout.write(`${json ? JSON.stringify(entry) : renderLogEntry(entry, colour)}\n`),
  });
  // Ctrl-C is taken from before the ready line on: whoever waits for that line (a script, a test)
  // may signal the moment it reads it, before this process runs another instruction.
  const stopped = new Promise<void>((resolve) => {
    let stoppingSince: number | undefined;
    const shutdown = () => {
      if (stoppingSince === undefined) {
        stoppingSince = performance.now();
        process.stderr.write(
          "Stopping the local stage (clients get 1001 Going away; Ctrl-C again to quit at once)…\n",
        );
        stage.stop().then(resolve, resolve);
        return;
      }
      // One Ctrl-C in a terminal arrives several times: the terminal signals every process of the
      // foreground group (npm, the shell, node), and npm and tsx forward it again moments later.
      // Only a press well after the first one means "quit now, skip the $disconnect invocations".
      if (performance.now() - stoppingSince >= REPEATED_INTERRUPT_MS) process.exit(130);
    };
    process.on("SIGINT", shutdown);
    process.on("SIGTERM", shutdown);
  });
  const startMs = Math.round(performance.now() - started);
  const { outputs } = stage;
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ type: "ready", startMs, outputs, signatures: stage.signatures })}\n`,
    );
  } else {
    process.stdout.write(
      [
        `Local stage ready in ${startMs} ms`,
        `  WebSocket  ${outputs.websocketUrl}`,
        `  Management ${outputs.managementEndpoint}   (@connections)`,
        `  S3         ${outputs.endpoints.s3}`,
        `  SNS        ${outputs.endpoints.sns}   topic ${outputs.topicArn}`,
        `  Lambda     ${outputs.endpoints.lambda}   (Invoke API)`,
        `  Connect    npm run connect -- ${LOCAL_STAGE}`,
        `  Publish    npm run send-data -- ${LOCAL_STAGE} '{"hello":"world"}'`,
        `  Logs       ${shortPath(stage.logFile)}   (Ctrl-C stops)`,
        ...signatureLines(stage, host ?? "127.0.0.1", colour),
        ...(Object.keys(faults).length === 0
          ? []
          : [`  FAULTS     injecting ${args.values.fault}: calls will fail on purpose`]),
        "",
      ].join("\n"),
    );
  }

  await stopped;
  return 0;
});
