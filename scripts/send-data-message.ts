import { LIMITS } from "../functions/contract.js";
import { connectionIdsProblem } from "../functions/lib/addressing.js";
import { UsageError } from "./cli.js";

/**
 * The message `npm run send-data` publishes: JSON unless --raw, sent exactly as typed, and small
 * enough to reach a WebSocket client (the topic takes more than a client can be sent).
 */
export function sendDataMessage(text: string | undefined, options: { raw: boolean }): string {
  if (text === undefined || text === "") {
    throw new UsageError(
      `Give the message to publish, e.g. npm run send-data -- local '{"hello":"world"}'.`,
    );
  }
  if (!options.raw) {
    try {
      JSON.parse(text);
    } catch (error) {
      throw new UsageError(
        `The message is not valid JSON (${(error as Error).message}): ${shorten(text)}\n` +
          `Quote it for your shell, e.g. npm run send-data -- local '{"hello":"world"}', or add --raw to send it as plain text.`,
      );
    }
  }
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > LIMITS.messageBytes) {
    throw new UsageError(
      `The message is ${bytes} bytes; a WebSocket client can be sent at most ${LIMITS.messageBytes} (API Gateway's limit). Send a smaller one.`,
    );
  }
  return text;
}

function shorten(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

/**
 * The connection ids of `--to` options, checked as the subscriber will check them: a mistyped id
 * is refused here rather than silently reaching no one.
 */
export function sendDataRecipients(to: readonly string[] | undefined): string[] | undefined {
  if (to === undefined || to.length === 0) return undefined;
  const problem = connectionIdsProblem(to);
  if (problem !== undefined) {
    throw new UsageError(
      `--to must name connection ids: ${problem}. A client's connection id is in the log of the stage (\`npm run logs -- <stage> --function connect\`).`,
    );
  }
  return [...new Set(to)];
}
