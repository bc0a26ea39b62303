import {
  type CloudWatchLogsClient,
  StartLiveTailCommand,
  type StartLiveTailResponseStream,
} from "@aws-sdk/client-cloudwatch-logs";
import { resourceNames, type StageOutputs } from "../../functions/contract.js";
import { ExpectedError } from "../../smoke/errors.js";
import { functionLogText, type LogSource, logLine } from "./sources.js";

/**
 * `npm run logs -- <deployed stage>`: CloudWatch Logs Live Tail over the stage's function log
 * groups and its API access log group. Live Tail wants log group ARNs, so the account id comes
 * from the topic's ARN in the outputs (no extra call, no extra permission).
 */

export interface TailedEvent {
  readonly source: LogSource;
  readonly timestamp: number;
  readonly message: string;
}

/** The ARN of each source's log group. */
export function logGroupArns(
  outputs: StageOutputs,
  sources: readonly LogSource[],
): Map<string, LogSource> {
  const [arn, partition, service, region, account] = outputs.topicArn.split(":");
  if (arn !== "arn" || service !== "sns" || region === "" || !/^\d{12}$/.test(account ?? "")) {
    throw new ExpectedError(
      `The topic ARN in ${outputs.stage}'s outputs (${outputs.topicArn}) names no AWS account: check \`npm run outputs -- ${outputs.stage}\`.`,
    );
  }
  const names = resourceNames(outputs.stage);
  return new Map(
    sources.map((source) => {
      const group = source === "api" ? names.accessLogGroup : names.functionLogGroup(source);
      return [`arn:${partition}:logs:${region}:${account}:log-group:${group}`, source];
    }),
  );
}

export function formatTailedEvent(event: TailedEvent): string {
  return logLine(new Date(event.timestamp), event.source, functionLogText(event.message));
}

export interface LiveTailOptions {
  readonly signal: AbortSignal;
  readonly onEvent: (event: TailedEvent) => void;
  /** Session notices: started, sampled, restarted. */
  readonly onNotice: (text: string) => void;
}

/** Tails until the signal aborts; a session that times out (after 3 hours) is started again. */
export async function followLiveTail(
  client: CloudWatchLogsClient,
  groups: Map<string, LogSource>,
  options: LiveTailOptions,
): Promise<void> {
  const sourceOf = sourceLookup(groups);
  while (!options.signal.aborted) {
    let stream: AsyncIterable<StartLiveTailResponseStream> | undefined;
    try {
      const response = await client.send(
        new StartLiveTailCommand({ logGroupIdentifiers: [...groups.keys()] }),
        { abortSignal: options.signal },
      );
      stream = response.responseStream;
    } catch (error) {
      if (options.signal.aborted) return;
      throw liveTailError(error);
    }
    if (stream === undefined) return;
    let sampledNoticed = false;
    let timedOut = false;
    try {
      for await (const item of stream) {
        if (item.sessionStart !== undefined) {
          options.onNotice(`Tailing ${groups.size} log groups (Ctrl-C stops).`);
        } else if (item.sessionUpdate !== undefined) {
          if (item.sessionUpdate.sessionMetadata?.sampled === true && !sampledNoticed) {
            sampledNoticed = true;
            options.onNotice("More than 500 events a second: Live Tail shows a sample.");
          }
          for (const result of item.sessionUpdate.sessionResults ?? []) {
            options.onEvent({
              source: sourceOf(result.logGroupIdentifier),
              timestamp: result.timestamp ?? Date.now(),
              message: result.message ?? "",
            });
          }
        } else if (item.SessionTimeoutException !== undefined) {
          timedOut = true;
        } else if (item.SessionStreamingException !== undefined) {
          throw new ExpectedError(
            `The Live Tail session failed: ${item.SessionStreamingException.message ?? "no reason given"}. Run the command again.`,
          );
        }
      }
    } catch (error) {
      if (options.signal.aborted) return;
      throw liveTailError(error);
    }
    if (!timedOut) return;
    options.onNotice("The Live Tail session timed out; starting a new one.");
  }
}

function sourceLookup(groups: Map<string, LogSource>): (identifier?: string) => LogSource {
  const byName = new Map(
    [...groups].map(([arn, source]) => [arn.slice(arn.indexOf(":log-group:") + 11), source]),
  );
  return (identifier) => {
    const name = (identifier ?? "").replace(/^.*:log-group:/, "").replace(/:\*$/, "");
    return groups.get(identifier ?? "") ?? byName.get(name) ?? "api";
  };
}

function liveTailError(error: unknown): ExpectedError {
  if (error instanceof ExpectedError) return error;
  const { name, message } = error as { name?: string; message?: string };
  if (name === "CredentialsProviderError") {
    return new ExpectedError(
      "No AWS credentials to read the logs: configure the standard AWS chain (e.g. AWS_PROFILE, or `aws sso login`) for the stage's account.",
      { cause: error },
    );
  }
  if (name === "ResourceNotFoundException") {
    return new ExpectedError(
      `A log group of the stage does not exist (${message ?? name}): deploy the stage, or narrow the sources with --function.`,
      { cause: error },
    );
  }
  if (name === "AccessDeniedException") {
    return new ExpectedError(
      `Not allowed to tail the logs (${message ?? name}): the credentials in use need logs:StartLiveTail on the stage's log groups.`,
      { cause: error },
    );
  }
  return new ExpectedError(`Live Tail failed: ${name ?? "Error"}: ${message ?? String(error)}`, {
    cause: error,
  });
}
