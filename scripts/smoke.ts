import { ExpectedError } from "../smoke/errors.js";
import { resolveStageOutputs } from "../smoke/outputs.js";
import { formatStep, formatVerdict } from "../smoke/report.js";
import { runSmoke } from "../smoke/smoke.js";
import { parseCommandLine, runCommand, stageArgument, UsageError } from "./cli.js";
import { millisecondsOption } from "./milliseconds-option.js";
import { smokeBroadcastAllowed } from "./smoke-profile.js";

const DEFAULT_TIMEOUT_MS = 10_000;

const usage = `
Usage: npm run smoke -- --stage <stage> [--json] [--timeout ms] [--no-broadcast]

Checks that a stage works end to end: two clients connect, each echoes a nonce and alone gets the
reply, a message published to the stage's SNS topic addressed to those two clients reaches both,
a broadcast reaches both (only where the stage's smokeBroadcast setting allows it: not prod), a
malformed frame gets an error frame, and closing leaves the registry as it was (checked on the
local stage). No other connected client receives anything but that broadcast.
Exits 0 when every step passed, 1 when one failed or the stage is not up, 2 for a usage error.

  --stage <stage>   local, dev, staging or prod
  --json            print one JSON result on stdout (the steps still print on stderr)
  --timeout <ms>    bound on every wait (default ${DEFAULT_TIMEOUT_MS})
  --no-broadcast    skip the broadcast step on any stage (prod's profile)

Deployed stages use the standard AWS credential chain (AWS_PROFILE, SSO, CI's role).
Example: npm run smoke -- --stage local
`;

runCommand(async () => {
  const args = parseCommandLine(process.argv.slice(2), {
    usage,
    allowPositionals: true,
    options: {
      stage: { type: "string" },
      json: { type: "boolean" },
      timeout: { type: "string" },
      "no-broadcast": { type: "boolean" },
    },
  });
  if (args === undefined) return 0;
  const [positional] = args.positionals;
  if (positional !== undefined) {
    throw new UsageError(
      `Name the stage with --stage: npm run smoke -- --stage ${positional}\n\n${usage.trim()}`,
    );
  }
  const stage = stageArgument(args.values.stage, usage);
  const timeoutMs = millisecondsOption("--timeout", args.values.timeout, DEFAULT_TIMEOUT_MS, usage);
  const json = args.values.json === true;
  const broadcast = smokeBroadcastAllowed(stage, {
    noBroadcast: args.values["no-broadcast"] === true,
  });
  const progress = json ? process.stderr : process.stdout;

  let outputs: Awaited<ReturnType<typeof resolveStageOutputs>>;
  try {
    outputs = await resolveStageOutputs(stage);
  } catch (error) {
    if (json && error instanceof ExpectedError) {
      process.stdout.write(`${JSON.stringify({ stage, passed: false, error: error.message })}\n`);
    }
    throw error;
  }
  progress.write(
    `smoke ${stage}: ${outputs.websocketUrl} (timeout ${timeoutMs} ms per wait; ${broadcast ? "with" : "without"} a client broadcast)\n`,
  );
  const result = await runSmoke(outputs, {
    timeoutMs,
    broadcast,
    onStep: (step) => progress.write(`${formatStep(step)}\n`),
  });
  progress.write(`${formatVerdict(result)}\n`);
  if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
  return result.passed ? 0 : 1;
});
