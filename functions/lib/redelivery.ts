import { LIMITS, REDELIVERY } from "../contract.js";
import { type Addressing, addressedAttributes } from "./addressing.js";
import { logger } from "./logger.js";
import type { TopicPublisher } from "./topic-publisher.js";

/**
 * Handing undelivered connections on: ids whose posts still fail with a retryable error at the
 * end of a fan-out are published back to the stage's own topic as an addressed message (one per
 * LIMITS.addressedConnectionsMax ids) carrying the next attempt number and the first attempt's
 * time. The subscriber delivers it like any addressed message, so a later Lambda invocation —
 * seconds later, with fresh retry budgets — tries those connections, and only those, again.
 * REDELIVERY in the contract bounds it.
 */

/** What becomes of ids still undelivered after one attempt of a message. */
export type NextStep =
  | { readonly handOn: true; readonly attempt: number }
  /** Keep the message where Lambda's retries and the on-failure queue hold it: throw. */
  | { readonly handOn: false };

/** A handed-on copy older than REDELIVERY.maxAgeMs is no longer worth delivering. */
export function isExpired(addressing: Addressing, now: number): boolean {
  return (
    addressing.firstAttemptAt !== undefined && now - addressing.firstAttemptAt > REDELIVERY.maxAgeMs
  );
}

/**
 * Below maxAttempts: hand on with the next attempt. At maxAttempts: hand on once more only if this
 * attempt made progress (the set shrank, so this ends), otherwise keep it — throwing is safe then
 * because this invocation reached none of its ids, so Lambda's retries duplicate nothing.
 */
export function nextStep(attempt: number, deliveredThisAttempt: number): NextStep {
  if (attempt < REDELIVERY.maxAttempts) return { handOn: true, attempt: attempt + 1 };
  if (deliveredThisAttempt > 0) return { handOn: true, attempt };
  return { handOn: false };
}

export interface HandOffResult {
  /** Ids now carried by an addressed message on the topic. */
  readonly handedOn: number;
  /** Ids whose Publish failed: the caller must keep or report them. */
  readonly notHandedOn: readonly string[];
  readonly error?: unknown;
}

/** Where one attempt's undelivered connections went. */
export interface Settlement {
  /** Ids now carried by an addressed copy on the topic. */
  readonly handedOn: number;
  /** Ids neither delivered nor handed on (already logged at error level with the ids). */
  readonly notHandedOn: readonly string[];
  /** Set when the policy is exhausted: the caller keeps the message (the subscriber throws). */
  readonly exhausted: boolean;
}

export class Redelivery {
  constructor(
    private readonly publisher: TopicPublisher,
    private readonly topicArn: string,
  ) {}

  /**
   * Applies the policy to what attempt `timing.attempt` of `frame` left undelivered: hands those
   * ids on as the next attempt, or reports the policy exhausted.
   */
  async settle(
    frame: string,
    undelivered: readonly string[],
    timing: { readonly attempt: number; readonly firstAttemptAt: number },
    deliveredThisAttempt: number,
  ): Promise<Settlement> {
    if (undelivered.length === 0) return { handedOn: 0, notHandedOn: [], exhausted: false };
    const step = nextStep(timing.attempt, deliveredThisAttempt);
    if (!step.handOn) {
      logger.error("Redelivery given up: the last attempt reached none of its connections", {
        attempt: timing.attempt,
        count: undelivered.length,
        connectionIds: undelivered.slice(0, 10),
      });
      return { handedOn: 0, notHandedOn: undelivered, exhausted: true };
    }
    const handOff = await this.handOn(frame, undelivered, {
      attempt: step.attempt,
      firstAttemptAt: timing.firstAttemptAt,
    });
    if (handOff.notHandedOn.length > 0) {
      logger.error("Undelivered connections could not be handed on for redelivery", {
        count: handOff.notHandedOn.length,
        connectionIds: handOff.notHandedOn,
        error: handOff.error,
      });
    } else {
      logger.info("Undelivered connections handed on for redelivery", {
        count: handOff.handedOn,
        attempt: step.attempt,
      });
    }
    return { handedOn: handOff.handedOn, notHandedOn: handOff.notHandedOn, exhausted: false };
  }

  /** Publishes `frame` addressed to `connectionIds`, as delivery attempt `attempt`. */
  async handOn(
    frame: string,
    connectionIds: readonly string[],
    redelivery: { readonly attempt: number; readonly firstAttemptAt: number },
  ): Promise<HandOffResult> {
    let handedOn = 0;
    const notHandedOn: string[] = [];
    let lastError: unknown;
    for (let start = 0; start < connectionIds.length; start += LIMITS.addressedConnectionsMax) {
      const ids = connectionIds.slice(start, start + LIMITS.addressedConnectionsMax);
      try {
        await this.publisher.publish(this.topicArn, frame, addressedAttributes(ids, redelivery));
        handedOn += ids.length;
      } catch (error) {
        lastError = error;
        notHandedOn.push(...ids);
      }
    }
    return { handedOn, notHandedOn, ...(lastError === undefined ? {} : { error: lastError }) };
  }
}
