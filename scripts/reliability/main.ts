import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ARTIFACTS } from "../../functions/contract.js";
import { parseCommandLine, runCommand, UsageError } from "../cli.js";
import { buildBundles, bundlesOutdated } from "../local/lambda/bundles.js";
import { runReliability } from "./run.js";
import { reliabilityTable } from "./table.js";

const usage = `
Usage: npm run reliability [-- options]

Starts a local stage on 127.0.0.1 (any free ports) and tries to break it: fuzzes frames from one
client while two others watch, then runs a load with accounting (SNS publishes and client
broadcasts with unique ids, a share of the clients killed halfway, every survivor counted), then
injects faults scenario by scenario (@connections answering 410, bursts of 429 and 500, slow
answers; S3 503 on put, list and delete; functions that throw or time out) and checks each
outcome. Prints a table; exits 1 on any loss, duplicate, unanswered, misdirected or rewritten
frame, stale registry entry, failed fault scenario or heap growth, 2 on bad options.

  --frames <n>         frames to fuzz                       (default 10000)
  --seed <n>           fast-check seed, to replay a run     (default 42)
  --max-depth <n>      deepest nesting fuzzed               (default 5000)
  --clients <n>        connections in the load run          (default 2000)
  --messages <n>       messages in the load run             (default 100)
  --kill <share>       share of clients killed mid-run      (default 0.2)
  --fault-clients <n>  connections in each fault scenario   (default 100)
  --fault-messages <n> messages in each fault scenario      (default 10)
  --interrupt-clients <n>
                       clients connected when Ctrl-C reaches npm start in a
                       pseudo-terminal (util-linux script)  (default 500)
  --json               the report as JSON on stdout

Example: npm run reliability -- --clients 500 --messages 50 --json
`;

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

function count(flag: string, value: string | undefined, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min) {
    throw new UsageError(
      `--${flag} takes a whole number from ${min} (got "${value}").\n\n${usage.trim()}`,
    );
  }
  return parsed;
}

runCommand(async () => {
  const args = parseCommandLine(process.argv.slice(2), {
    usage,
    options: {
      frames: { type: "string" },
      seed: { type: "string" },
      "max-depth": { type: "string" },
      clients: { type: "string" },
      messages: { type: "string" },
      kill: { type: "string" },
      "fault-clients": { type: "string" },
      "fault-messages": { type: "string" },
      "interrupt-clients": { type: "string" },
      json: { type: "boolean" },
    },
  });
  if (args === undefined) return 0;
  const killShare = Number(args.values.kill ?? "0.2");
  if (!(killShare >= 0 && killShare < 1)) {
    throw new UsageError(
      `--kill takes a share from 0 to below 1 (got "${args.values.kill}").\n\n${usage.trim()}`,
    );
  }
  const distDir = join(ROOT, ARTIFACTS.dir);
  const outdated = await bundlesOutdated(ROOT, distDir);
  if (outdated !== undefined) {
    process.stderr.write(`Building the bundles (${outdated}): npm run bundle …\n`);
    await buildBundles(ROOT);
  }
  const tty = process.stderr.isTTY;
  let lastLine = 0;
  const report = await runReliability({
    distDir,
    frames: count("frames", args.values.frames, 10_000),
    seed: count("seed", args.values.seed, 42),
    maxDepth: count("max-depth", args.values["max-depth"], 5_000, 1),
    clients: count("clients", args.values.clients, 2_000, 1),
    messages: count("messages", args.values.messages, 100, 1),
    killShare,
    faultClients: count("fault-clients", args.values["fault-clients"], 100, 2),
    faultMessages: count("fault-messages", args.values["fault-messages"], 10, 1),
    interruptClients: count("interrupt-clients", args.values["interrupt-clients"], 500, 1),
    requireVerbatim: true,
    onProgress: (line) => {
      if (tty) process.stderr.write(`\r\x1b[K${line}`);
      else if (performance.now() - lastLine > 5_000) {
        lastLine = performance.now();
        process.stderr.write(`${line}\n`);
      }
    },
  });
  if (tty) process.stderr.write("\r\x1b[K");
  process.stdout.write(
    args.values.json === true ? `${JSON.stringify(report)}\n` : `${reliabilityTable(report)}\n`,
  );
  return report.failures.length === 0 ? 0 : 1;
});
