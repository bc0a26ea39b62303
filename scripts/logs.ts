import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { LOCAL_STAGE } from "../functions/contract.js";
import { StageNotUpError } from "../smoke/errors.js";
import { resolveStageOutputs, stateDir } from "../smoke/outputs.js";
import { parseCommandLine, runCommand, stageArgument, UsageError } from "./cli.js";
import { localLogFile } from "./local/stage.js";
import { followLiveTail, formatTailedEvent, logGroupArns } from "./logs/live-tail.js";
import { followLocalLog, formatLocalEntry, localLineFilter, parseLocalLine } from "./logs/local.js";
import { isLogSource, LOG_SOURCES, type LogSource } from "./logs/sources.js";

const usage = `
Usage: npm run logs -- <stage> [--function <name>]... [--json] [--lines n]

Follows a stage's logs until Ctrl-C: every function's log and the API's (for the local stage:
the log \`npm start\` writes; for dev, staging and prod: CloudWatch Logs Live Tail).

  --function <name>  only this source: ${LOG_SOURCES.join(", ")} (api = the API
                     access log / gateway events); repeat it for several
  --json             one JSON object per line, for scripts
  --lines <n>        local stage: how many earlier lines to show first (default 10)

Deployed stages use the standard AWS credential chain and need logs:StartLiveTail.
Examples: npm run logs -- local --function message
          npm run logs -- dev --function subscriber --function api
`;

runCommand(async () => {
  const args = parseCommandLine(process.argv.slice(2), {
    usage,
    allowPositionals: true,
    options: {
      function: { type: "string", multiple: true },
      json: { type: "boolean" },
      lines: { type: "string" },
    },
  });
  if (args === undefined) return 0;
  const [stageName, extra] = args.positionals;
  const stage = stageArgument(stageName, usage);
  if (extra !== undefined) throw new UsageError(`Unexpected argument ${extra}.\n\n${usage.trim()}`);
  const sources = sourcesArgument(args.values.function);
  const json = args.values.json === true;
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort());

  if (stage === LOCAL_STAGE) {
    const lines = linesArgument(args.values.lines);
    const file = localLogFile(stateDir());
    await resolveStageOutputs(stage).then(
      () => process.stderr.write(`Following ${file} (Ctrl-C stops).\n`),
      (error: unknown) => {
        if (!(error instanceof StageNotUpError)) throw error;
        process.stderr.write(
          `The local stage is not running: following ${file} for when it starts (\`npm start\`).\n`,
        );
      },
    );
    await followLocalLog(file, {
      lines,
      signal: controller.signal,
      select: localLineFilter(sources),
      onLine: (line) => {
        const entry = parseLocalLine(line);
        const shown = json || typeof entry === "string" ? line : formatLocalEntry(entry);
        process.stdout.write(`${shown}\n`);
      },
    });
    return 0;
  }

  const outputs = await resolveStageOutputs(stage);
  const groups = logGroupArns(outputs, sources);
  const client = new CloudWatchLogsClient({ region: outputs.region });
  try {
    await followLiveTail(client, groups, {
      signal: controller.signal,
      onEvent: (event) =>
        process.stdout.write(`${json ? JSON.stringify(event) : formatTailedEvent(event)}\n`),
      onNotice: (text) => process.stderr.write(`${text}\n`),
    });
  } finally {
    client.destroy();
  }
  return 0;
});

function sourcesArgument(values: string[] | undefined): readonly LogSource[] {
  if (values === undefined || values.length === 0) return LOG_SOURCES;
  for (const value of values) {
    if (!isLogSource(value)) {
      throw new UsageError(
        `Unknown --function "${value}": use one of ${LOG_SOURCES.join(", ")}.\n\n${usage.trim()}`,
      );
    }
  }
  return values as LogSource[];
}

function linesArgument(value: string | undefined): number {
  if (value === undefined) return 10;
  const lines = Number(value);
  if (!Number.isInteger(lines) || lines < 0) {
    throw new UsageError(`--lines takes a whole number, e.g. --lines 50 (got "${value}").`);
  }
  return lines;
}
