import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import type { StageOutputs } from "../functions/contract.js";
import { addressedAttributes } from "../functions/lib/addressing.js";
import { awsClientConfig } from "./aws-access.js";
import { ExpectedError } from "./errors.js";

/** Publishing to a stage's SNS topic (deployed stages: the standard AWS credential chain). */

export function snsClientFor(outputs: StageOutputs): SNSClient {
  return new SNSClient(awsClientConfig(outputs, "sns"));
}

export interface PublishOptions {
  /** Give up (with an ExpectedError) when SNS has not answered within this long. */
  readonly timeoutMs?: number;
  /** A client to reuse; by default one is made for the stage and destroyed afterwards. */
  readonly client?: SNSClient;
  /** Address the message to these connections only (the `connectionIds` attribute). */
  readonly connectionIds?: readonly string[];
}

/**
 * Publishes `message` to the stage's topic — for every connection, or only the ones
 * `options.connectionIds` names — and returns its MessageId.
 */
export async function publish(
  outputs: StageOutputs,
  message: string,
  options: PublishOptions = {},
): Promise<string> {
  const { client, timeoutMs, connectionIds } = options;
  const sns = client ?? snsClientFor(outputs);
  try {
    const result = await sns.send(
      new PublishCommand({
        TopicArn: outputs.topicArn,
        Message: message,
        ...(connectionIds === undefined
          ? {}
          : { MessageAttributes: addressedAttributes(connectionIds) }),
      }),
      timeoutMs === undefined ? {} : { abortSignal: AbortSignal.timeout(timeoutMs) },
    );
    return result.MessageId ?? "";
  } catch (error) {
    if ((error as Error).name === "AbortError" || (error as Error).name === "TimeoutError") {
      throw new ExpectedError(
        `SNS did not answer the Publish to ${outputs.topicArn} within ${timeoutMs} ms (endpoint: ${outputs.endpoints?.sns ?? `sns.${outputs.region}`}).`,
        { cause: error },
      );
    }
    throw publishError(outputs, error);
  } finally {
    if (client === undefined) sns.destroy();
  }
}

/** Says what went wrong in words a person can act on; never includes credentials. */
export function publishError(outputs: StageOutputs, error: unknown): ExpectedError {
  const { name, message } = error as { name?: string; message?: string };
  const where = `the topic ${outputs.topicArn}`;
  if (name === "CredentialsProviderError") {
    return new ExpectedError(
      `No AWS credentials to publish to ${where}: configure the standard AWS chain (e.g. AWS_PROFILE, or \`aws sso login\`) for the ${outputs.stage} account.`,
      { cause: error },
    );
  }
  if (name === "AuthorizationErrorException" || name === "AccessDeniedException") {
    return new ExpectedError(
      `Not allowed to publish to ${where} (${name}): the credentials in use need sns:Publish on it.`,
      { cause: error },
    );
  }
  if (name === "NotFoundException" || name === "NotFound") {
    return new ExpectedError(
      `${where} does not exist: check \`npm run outputs -- ${outputs.stage}\` (deployed stages: redeploy).`,
      { cause: error },
    );
  }
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ECONNREFUSED") {
    return new ExpectedError(
      `Nothing answers at the SNS endpoint of ${outputs.stage} (${outputs.endpoints?.sns ?? outputs.region}): is the stage running?`,
      { cause: error },
    );
  }
  return new ExpectedError(
    `Publishing to ${where} failed: ${name ?? "Error"}: ${message ?? String(error)}`,
    { cause: error },
  );
}
