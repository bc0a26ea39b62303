import { resolveStageOutputs } from "../smoke/outputs.js";
import { parseCommandLine, runCommand, stageArgument } from "./cli.js";

const usage = `
Usage: npm run outputs -- <stage> [--json]

Prints a stage's outputs: WebSocket URL, management endpoint, SNS topic, registry bucket.
Stages: local (while \`npm start\` runs), dev, staging, prod (once deployed).
Exits 1 when the stage is not up.

  --json   one JSON object, for scripts

Example: npm run outputs -- local --json
`;

runCommand(async () => {
  const args = parseCommandLine(process.argv.slice(2), {
    usage,
    allowPositionals: true,
    options: { json: { type: "boolean" } },
  });
  if (args === undefined) return 0;
  const stage = stageArgument(args.positionals[0], usage);
  const outputs = await resolveStageOutputs(stage);
  if (args.values.json === true) {
    process.stdout.write(`${JSON.stringify(outputs)}\n`);
  } else {
    const width = Math.max(...Object.keys(outputs).map((key) => key.length));
    for (const [key, value] of Object.entries(outputs)) {
      const shown = typeof value === "string" ? value : JSON.stringify(value);
      process.stdout.write(`${key.padEnd(width)}  ${shown}\n`);
    }
  }
  return 0;
});
