import { resolveStageOutputs } from "../smoke/outputs.js";
import { publish } from "../smoke/publish.js";
import { parseCommandLine, runCommand, stageArgument, UsageError } from "./cli.js";
import { sendDataMessage } from "./send-data-message.js";

const usage = `
Usage: npm run send-data -- <stage> '<json>' [--raw] [--json]

Publishes a message to the stage's SNS topic; the stage fans it out to every connected client.
The message must be JSON unless --raw is given. Quote it for your shell.

  --raw    send the text as it is, JSON or not
  --json   print {"messageId": ...} for scripts

Deployed stages use the standard AWS credential chain (AWS_PROFILE, SSO, CI's role).
Example: npm run send-data -- local '{"hello":"world"}'
`;

runCommand(async () => {
  const args = parseCommandLine(process.argv.slice(2), {
    usage,
    allowPositionals: true,
    options: { raw: { type: "boolean" }, json: { type: "boolean" } },
  });
  if (args === undefined) return 0;
  const [stageName, text, extra] = args.positionals;
  const stage = stageArgument(stageName, usage);
  if (extra !== undefined) {
    throw new UsageError(
      `Give the message as one argument: quote it, e.g. npm run send-data -- ${stage} '{"hello":"world"}'.`,
    );
  }
  const message = sendDataMessage(text, { raw: args.values.raw === true });
  const outputs = await resolveStageOutputs(stage);
  const messageId = await publish(outputs, message);
  if (args.values.json === true) process.stdout.write(`${JSON.stringify({ messageId })}\n`);
  else process.stdout.write(`Published to ${outputs.topicArn} (MessageId ${messageId}).\n`);
  return 0;
});
