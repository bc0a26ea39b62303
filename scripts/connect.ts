import { resolveStageOutputs } from "../smoke/outputs.js";
import { parseCommandLine, runCommand, stageArgument, UsageError } from "./cli.js";
import { millisecondsOption } from "./milliseconds-option.js";
import { runTerminalSession } from "./terminal-session.js";

const usage = `
Usage: npm run connect -- <stage> [--once] [--wait ms] [--timeout ms]

Opens a WebSocket connection to the stage: prints every frame that arrives and sends each line
you type as one frame. Ctrl-D closes the connection; Ctrl-C quits.
With --once, or when stdin is not a terminal, it sends the lines stdin holds, prints the replies
until none has come for --wait ms, and exits: frames on stdout, status on stderr.
Exits 1 when the stage is not up or closes the connection.

  --once          send stdin's lines, wait for replies, exit
  --wait <ms>     how long to wait for more replies in --once mode (default 1000)
  --timeout <ms>  bound on the handshake and on the whole wait for replies (default 10000)

Try: {"action":"broadcast","message":"hello"}
Examples: npm run connect -- local
          echo '{"action":"broadcast","message":"hi"}' | npm run connect -- local --once
`;

runCommand(async () => {
  const args = parseCommandLine(process.argv.slice(2), {
    usage,
    allowPositionals: true,
    options: {
      once: { type: "boolean" },
      wait: { type: "string" },
      timeout: { type: "string" },
    },
  });
  if (args === undefined) return 0;
  const [stageName, extra] = args.positionals;
  const stage = stageArgument(stageName, usage);
  if (extra !== undefined) {
    throw new UsageError(
      `Unexpected argument ${extra}: pipe what to send into stdin.\n\n${usage.trim()}`,
    );
  }
  const quietMs = millisecondsOption("--wait", args.values.wait, 1000, usage);
  const timeoutMs = millisecondsOption("--timeout", args.values.timeout, 10_000, usage);
  const interactive = process.stdin.isTTY === true && args.values.once !== true;
  const outputs = await resolveStageOutputs(stage);
  return runTerminalSession({
    url: outputs.websocketUrl,
    input: process.stdin,
    output: process.stdout,
    status: process.stderr,
    once: !interactive,
    quietMs,
    timeoutMs,
    prefix: interactive,
  });
});
