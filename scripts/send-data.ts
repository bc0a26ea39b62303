import { LIMITS } from "../functions/contract.js";
import { resolveStageOutputs } from "../smoke/outputs.js";
import { publish } from "../smoke/publish.js";
import { parseCommandLine, runCommand, stageArgument, UsageError } from "./cli.js";
import { sendDataMessage, sendDataRecipients } from "./send-data-message.js";

const usage = `
Usage: npm run send-data -- <stage> '<json>' [--to <connection id>]... [--raw] [--json]

Publishes a message to the stage's SNS topic; the stage fans it out to every connected client,
or with --to only to the connections named (an id that is no longer connected is dropped and
removed from the registry). The message must be JSON unless --raw is given. Quote it for your shell.

  --to <id>   address the message to this connection id; repeat for several (at most ${LIMITS.addressedConnectionsMax})
  --raw       send the text as it is, JSON or not
  --json      print {"messageId": ...} for scripts

Deployed stages use the standard AWS credential chain (AWS_PROFILE, SSO, CI's role).
Examples: npm run send-data -- local '{"hello":"world"}'
          npm run send-data -- dev '{"to":"you"}' --to L0SM9cOFvHcCIhw=
`;

runCommand(async () => {
  const args = parseCommandLine(process.argv.slice(2), {
    usage,
    allowPositionals: true,
    options: {
      raw: { type: "boolean" },
      json: { type: "boolean" },
      to: { type: "string", multiple: true },
    },
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
  const connectionIds = sendDataRecipients(args.values.to);
  const outputs = await resolveStageOutputs(stage);
  const messageId = await publish(
    outputs,
    message,
    connectionIds === undefined ? {} : { connectionIds },
  );
  const audience =
    connectionIds === undefined
      ? "every connection"
      : `${connectionIds.length} connection${connectionIds.length === 1 ? "" : "s"}`;
  if (args.values.json === true) {
    process.stdout.write(
      `${JSON.stringify({ messageId, ...(connectionIds === undefined ? {} : { connectionIds }) })}\n`,
    );
  } else {
    process.stdout.write(
      `Published to ${outputs.topicArn} for ${audience} (MessageId ${messageId}).\n`,
    );
  }
  return 0;
});
