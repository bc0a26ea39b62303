import pLimit from "p-limit";
import { CONNECTION_ID_PATTERN, ENV, FANOUT, type FunctionName, LIMITS } from "../contract.js";
import type { Recipients } from "./addressing.js";
import { ConfigurationError } from "./config.js";
import { type DeliveryResult, deliver } from "./delivery.js";
import { logger } from "./logger.js";
import { PacedPoster } from "./paced-poster.js";
import type { Poster } from "./poster.js";
import { byteLength } from "./protocol.js";
import type { Registry } from "./registry.js";
import { type Clock, SYSTEM_CLOCK, TokenBucket } from "./token-bucket.js";

/**
 * Sharded fan-out, the dispatching half: the function that received a message (message or
 * subscriber) lists the registry; a fan-out to at most `inProcessMax` connections is delivered
 * in-process, a larger one is cut into shards of `pageSize` ids and each shard handed to the
 * fan-out worker (handlers/fanout.ts) by an asynchronous invocation, with the message verbatim and
 * its share of the stage's throttle budget.
 *
 * The two settings are separate because they answer different questions. The shard size is
 * bounded by what one shard must fit (an async payload, one redelivery: FANOUT.pageSizeMax). The
 * in-process maximum is how large a fan-out is still worth doing without the extra invocation's
 * latency, bounded by what one invocation can post within its time (FANOUT.inProcessMaxLimit).
 * An in-process fan-out larger than one shard is paced at the whole budget, as its shards together
 * would be, so raising the maximum never lets a fan-out exceed the stage's throttle budget.
 *
 * Why asynchronous invocation and not SQS: a shard is one event of at most ~1 MB (Lambda's async
 * payload limit; a page of 1,000 ids is ~20 KB and a 128 KB message at most 768 KB once
 * JSON-escaped), so it needs no batching, no queue to own, poll or size, and no visibility-timeout
 * tuning: Lambda's own event queue starts one worker per shard at once, as wide as the account's
 * concurrency allows, and its retries (FANOUT.maxRetries) and on-failure destination give a failed
 * shard the same keep-it-until-someone-looks path SQS's redrive would, with no extra resource to
 * scale. SQS would add an event source mapping whose pollers ramp up gradually and batch
 * (latency) and a second failure path (its own redrive queue) for nothing the fan-out needs.
 *
 * Nothing is sent twice: every connection id is in exactly one shard, and a shard whose Invoke
 * was refused (after the invoker's retries) or whose request never went out was never started,
 * so its ids are handed back to the caller as undelivered, for the redelivery path (an addressed
 * message) to carry. One case no sender can rule out: an Invoke whose request was sent but whose
 * answer never came (InvokeUnansweredError). Its ids are handed on too — the same choice delivery
 * makes for a post whose answer was lost: a possible second copy rather than a possible loss —
 * and the dispatch line counts them as `unanswered`, at error level.
 */

/** What the worker receives: one shard. */
export interface ShardEvent {
  /** The message, verbatim (the text every connection of the shard receives). */
  readonly message: string;
  readonly connectionIds: readonly string[];
  /** This shard's share of the stage's throttle budget. */
  readonly postsPerSecond: number;
  /** 0-based index and count of the fan-out's shards. */
  readonly shard: { readonly index: number; readonly count: number };
  /** Where the fan-out came from, for the worker's accounting line. */
  readonly origin: {
    readonly function: FunctionName;
    readonly requestId: string;
    readonly messageId?: string;
  };
}

export type ShardEventResult =
  | { readonly ok: true; readonly event: ShardEvent }
  | { readonly ok: false; readonly problem: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Checks an invocation's payload is a shard (anything else is a bug or a stray invoke). */
export function readShardEvent(value: unknown): ShardEventResult {
  if (!isRecord(value)) return { ok: false, problem: "the payload is not a JSON object" };
  const { message, connectionIds, postsPerSecond, shard, origin } = value;
  if (typeof message !== "string") return { ok: false, problem: "message is not a string" };
  if (
    !Array.isArray(connectionIds) ||
    connectionIds.length === 0 ||
    connectionIds.length > FANOUT.pageSizeMax ||
    !connectionIds.every(
      (id) =>
        typeof id === "string" &&
        id.length <= LIMITS.connectionIdMaxChars &&
        CONNECTION_ID_PATTERN.test(id),
    )
  ) {
    return {
      ok: false,
      problem: `connectionIds must be 1 to ${FANOUT.pageSizeMax} connection ids`,
    };
  }
  if (
    typeof postsPerSecond !== "number" ||
    !(postsPerSecond > 0) ||
    !Number.isFinite(postsPerSecond)
  ) {
    return { ok: false, problem: "postsPerSecond must be a positive number" };
  }
  if (
    !isRecord(shard) ||
    !Number.isSafeInteger(shard.index) ||
    !Number.isSafeInteger(shard.count) ||
    (shard.index as number) < 0 ||
    (shard.index as number) >= (shard.count as number)
  ) {
    return { ok: false, problem: "shard must be {index, count} with 0 <= index < count" };
  }
  if (
    !isRecord(origin) ||
    typeof origin.function !== "string" ||
    typeof origin.requestId !== "string"
  ) {
    return { ok: false, problem: "origin must name the dispatching function and its request id" };
  }
  return { ok: true, event: value as unknown as ShardEvent };
}

/** How a stage shards: the worker's name, the shard size, the in-process maximum and the budget (from ENV). */
export interface ShardSettings {
  readonly functionName: string;
  readonly pageSize: number;
  readonly inProcessMax: number;
  readonly postsPerSecond: number;
}

function positiveInteger(name: string, value: string, max: number): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 1 || parsed > max) {
    throw new ConfigurationError(
      `${name} must be a whole number from 1 to ${max} (got ${JSON.stringify(value)}). Set it in the function's environment (stacks/stages.ts sets it on AWS).`,
    );
  }
  return parsed;
}

/** Reads the shard settings from the configuration strings; a bad value fails the cold start. */
export function shardSettings(config: {
  readonly fanoutFunction: string;
  readonly fanoutPageSize: string;
  readonly fanoutInProcessMax: string;
  readonly postsPerSecond: string;
}): ShardSettings {
  return {
    functionName: config.fanoutFunction,
    pageSize: positiveInteger(ENV.fanoutPageSize, config.fanoutPageSize, FANOUT.pageSizeMax),
    inProcessMax: positiveInteger(
      ENV.fanoutInProcessMax,
      config.fanoutInProcessMax,
      FANOUT.inProcessMaxLimit,
    ),
    postsPerSecond: positiveInteger(
      ENV.postsPerSecond,
      config.postsPerSecond,
      FANOUT.accountRequestsPerSecond,
    ),
  };
}

/**
 * Hands one shard to the worker; rejects when Lambda did not accept it. `deadline` (epoch ms):
 * no attempt starts after it, and no answer is awaited past it.
 */
export interface ShardInvoker {
  invoke(
    functionName: string,
    payload: string,
    options?: { readonly deadline?: number },
  ): Promise<void>;
}

/**
 * The invoke's request was sent in full but no answer came: Lambda may have queued the shard or
 * not, and no caller can tell which. Not retried (a retry could start the shard twice); the
 * dispatcher hands its ids on for redelivery instead, the one case where a connection may get the
 * message twice rather than not at all (see dispatch).
 */
export class InvokeUnansweredError extends Error {
  override readonly name = "InvokeUnansweredError";
}

/** A fan-out's outcome: delivery's counts, plus what went to workers. */
export interface FanOutResult extends DeliveryResult {
  /** Shards handed to workers (0 when delivered in-process). */
  readonly shards: number;
  /** Connections in those shards: the workers deliver to them and account for them. */
  readonly dispatched: number;
}

export interface FanOutDependencies {
  readonly registry: Registry;
  readonly poster: Poster;
  readonly invoker: ShardInvoker;
}

export interface FanOutOptions {
  /** As delivery's: no post, retry pass or Invoke starts after it. */
  readonly deadline: number;
  readonly origin: ShardEvent["origin"];
  readonly now?: () => number;
  /** Paces an in-process fan-out larger than one shard; the system clock when omitted. */
  readonly clock?: Clock;
}

/** Cuts `ids` into shards of at most `size`. */
export function shardsOf(ids: readonly string[], size: number): string[][] {
  const shards: string[][] = [];
  for (let start = 0; start < ids.length; start += size)
    shards.push(ids.slice(start, start + size));
  return shards;
}

/**
 * Sends `frame` to its recipients: addressed messages and fan-outs of at most `inProcessMax`
 * connections in-process (delivery), larger fan-outs in shards through the worker. Rejects only
 * when the registry cannot be listed — before anything was posted or dispatched.
 */
export async function fanOut(
  frame: string,
  recipients: Recipients,
  dependencies: FanOutDependencies,
  settings: ShardSettings,
  options: FanOutOptions,
): Promise<FanOutResult> {
  const { registry, poster } = dependencies;
  if (recipients.kind === "connections") {
    const result = await deliver(frame, recipients, { registry, poster }, options);
    return { ...result, shards: 0, dispatched: 0 };
  }
  // The whole registry is listed before the first post or shard: whether to shard depends on how
  // many connections there are, and each shard's share of the budget on how many shards.
  const ids: string[] = [];
  for await (const page of registry.pages()) ids.push(...page);
  if (ids.length <= settings.inProcessMax) {
    // Delivery posts these page by page (LIMITS.s3PageSize), the next page queued while one drains.
    const clock = options.clock ?? SYSTEM_CLOCK;
    const paced =
      ids.length > settings.pageSize
        ? new PacedPoster(poster, new TokenBucket(settings.postsPerSecond, clock), options.deadline)
        : poster;
    const result = await deliver(
      frame,
      { kind: "connections", connectionIds: ids },
      { registry, poster: paced },
      { deadline: options.deadline, now: options.now ?? (() => clock.now()) },
    );
    return { ...result, shards: 0, dispatched: 0 };
  }
  return dispatch(frame, shardsOf(ids, settings.pageSize), dependencies.invoker, settings, options);
}

async function dispatch(
  frame: string,
  shards: readonly string[][],
  invoker: ShardInvoker,
  settings: ShardSettings,
  options: FanOutOptions,
): Promise<FanOutResult> {
  const now = options.now ?? Date.now;
  const postsPerSecond = settings.postsPerSecond / shards.length;
  const limit = pLimit(FANOUT.dispatchConcurrency);
  const undelivered: string[] = [];
  const refused: { shard: number; error: string }[] = [];
  let unanswered = 0;
  let dispatched = 0;
  let invoked = 0;
  const frameBytes = byteLength(frame);

  await Promise.all(
    shards.map((connectionIds, index) =>
      limit(async () => {
        const event: ShardEvent = {
          message: frame,
          connectionIds,
          postsPerSecond,
          shard: { index, count: shards.length },
          origin: options.origin,
        };
        const payload = JSON.stringify(event);
        if (now() >= options.deadline) {
          undelivered.push(...connectionIds);
          refused.push({ shard: index, error: "not invoked: the deadline came first" });
          return;
        }
        if (byteLength(payload) > FANOUT.asyncPayloadBytes) {
          // Unreachable for messages within LIMITS.messageBytes (shards.test.ts proves the bound);
          // handed on rather than lost should the limits ever change.
          undelivered.push(...connectionIds);
          refused.push({ shard: index, error: `payload over ${FANOUT.asyncPayloadBytes} bytes` });
          return;
        }
        try {
          await invoker.invoke(settings.functionName, payload, { deadline: options.deadline });
          invoked += 1;
          dispatched += connectionIds.length;
        } catch (error) {
          undelivered.push(...connectionIds);
          if (error instanceof InvokeUnansweredError) unanswered += connectionIds.length;
          refused.push({
            shard: index,
            error: error instanceof Error ? error.message : String(error),
          });
        }
      }),
    ),
  );

  const connections = shards.reduce((total, shard) => total + shard.length, 0);
  const summary = {
    connections,
    shards: shards.length,
    invoked,
    pageSize: settings.pageSize,
    inProcessMax: settings.inProcessMax,
    budget: settings.postsPerSecond,
    postsPerSecondPerShard: postsPerSecond,
    frameBytes,
    undelivered: undelivered.length,
    unanswered,
    worker: settings.functionName,
    // Every shard posts for about this long: the budget, not the workers, sets the pace.
    expectedSeconds: Math.ceil(connections / settings.postsPerSecond),
  };
  if (summary.expectedSeconds > FANOUT.workerTimeoutSeconds) {
    logger.error(
      "Fan-out larger than the budget can post within a worker's timeout: shards will stop before their last connections. Raise the stage's fanout.postsPerSecond (with an API Gateway quota increase).",
      summary,
    );
  }
  if (unanswered > 0) {
    logger.error(
      "Fan-out dispatched, some shard invokes sent but never answered: their connections are handed on and may receive the message twice (if Lambda had queued the shard)",
      { ...summary, refused: refused.slice(0, 10) },
    );
  } else if (refused.length > 0) {
    logger.error("Fan-out dispatched, some shards not accepted: their connections are handed on", {
      ...summary,
      refused: refused.slice(0, 10),
    });
  } else {
    logger.info("Fan-out dispatched", summary);
  }
  return { delivered: 0, gone: 0, failed: 0, undelivered, shards: shards.length, dispatched };
}
