import type { Recipients } from "./addressing.js";
import { type DeliveryResult, deliver } from "./delivery.js";
import { PacedPoster } from "./paced-poster.js";
import type { Poster } from "./poster.js";
import type { Settlement } from "./redelivery.js";
import type { Registry } from "./registry.js";
import type { ShardEvent } from "./shards.js";
import { type Clock, SYSTEM_CLOCK, TokenBucket } from "./token-bucket.js";

/**
 * The worker's half of a sharded fan-out: posts the shard's message to its connection ids at the
 * shard's share of the budget (a token bucket; slower after throttling), with delivery's retry
 * passes, and removes the ids @connections answers Gone for from the registry.
 */
export async function runShard(
  event: ShardEvent,
  dependencies: { readonly registry: Registry; readonly poster: Poster; readonly clock?: Clock },
  deadline: number,
): Promise<DeliveryResult> {
  const clock = dependencies.clock ?? SYSTEM_CLOCK;
  const bucket = new TokenBucket(event.postsPerSecond, clock);
  const recipients: Recipients = { kind: "connections", connectionIds: event.connectionIds };
  return deliver(
    event.message,
    recipients,
    {
      registry: dependencies.registry,
      poster: new PacedPoster(dependencies.poster, bucket, deadline),
    },
    { deadline, now: () => clock.now() },
  );
}

/**
 * Whether the shard must fail (throw) so Lambda retries it and then keeps it in the failure
 * queue: only when no connection received the message and none was handed on for redelivery, so
 * a retry duplicates nothing; and only when something is left to try (not all Gone).
 */
export function mustFail(result: DeliveryResult, settlement: Settlement): boolean {
  return (
    result.delivered === 0 &&
    settlement.handedOn === 0 &&
    (result.failed > 0 || settlement.notHandedOn.length > 0)
  );
}
