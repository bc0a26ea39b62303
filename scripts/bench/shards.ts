import { ENV, type EnvName, FANOUT } from "../../functions/contract.js";
import type { FanOutResult } from "./fan-out.js";
import type { Goal, PathSummary, ShardSummary } from "./report.js";

/**
 * The bench's shards section: the same fan-out through the stage's SNS, once per configuration,
 * each on a fresh stage (the settings are read at the functions' cold start): unsharded (the
 * subscriber posts to everyone itself, FANOUT_IN_PROCESS_MAX ≥ N) and sharded at each shard size.
 * Both spend the same throttle budget: an in-process fan-out larger than one shard is paced at the
 * whole budget, as its shards together are, so neither side is slowed for the comparison.
 */

/** Shard sizes compared (the contract's maximum page first). */
export const SHARD_PAGE_SIZES = [FANOUT.pageSizeMax, 500, 250] as const;

/** One stage of the section: how it fans out. `shards` 0 is in-process (unsharded). */
export interface ShardConfiguration {
  readonly label: string;
  readonly pageSize: number;
  readonly inProcessMax: number;
  readonly shards: number;
}

/**
 * Unsharded first when N is within FANOUT.inProcessMaxLimit (otherwise the functions would refuse
 * the setting at cold start, and the row is left out with a reason), then one per shard size.
 */
export function shardConfigurations(clients: number): {
  readonly configurations: readonly ShardConfiguration[];
  readonly skipped: string | undefined;
} {
  const sharded = SHARD_PAGE_SIZES.map((pageSize) => ({
    label: `shards of ${pageSize}`,
    pageSize,
    inProcessMax: Math.min(FANOUT.inProcessMaxDefault, pageSize),
    shards: Math.ceil(clients / pageSize),
  }));
  if (clients > FANOUT.inProcessMaxLimit) {
    return {
      configurations: sharded,
      skipped: `unsharded at N=${clients}: over ${ENV.fanoutInProcessMax}'s limit of ${FANOUT.inProcessMaxLimit}`,
    };
  }
  return {
    configurations: [
      { label: "unsharded", pageSize: FANOUT.pageSizeDefault, inProcessMax: clients, shards: 0 },
      ...sharded,
    ],
    skipped: undefined,
  };
}

/** What the configuration's stage gives its functions, on top of the bench's budget. */
export function shardEnvironment(
  configuration: ShardConfiguration,
  postsPerSecond: string,
): Partial<Record<EnvName, string>> {
  return {
    [ENV.postsPerSecond]: postsPerSecond,
    [ENV.fanoutPageSize]: String(configuration.pageSize),
    [ENV.fanoutInProcessMax]: String(configuration.inProcessMax),
  };
}

export interface ShardRun {
  readonly configuration: ShardConfiguration;
  /** The emulated round trip of every post's answer (`--rtt`); 0 on loopback. */
  readonly rttMs: number;
  readonly result: FanOutResult;
  /** 1-minute load average when the configuration's messages started and ended. */
  readonly loadAverage: { readonly start: number; readonly end: number };
}

const fixed = (value: number, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : "–");

/**
 * Sharded against unsharded in the same run and at the same round trip, one goal row per shard
 * size and round trip: faster means both a lower median time to last client and more messages/s
 * (the mean): on a noisy shared machine one of the two alone can favour either side by chance.
 * Rows are left out when either side was not measured. Rows with an emulated round trip are
 * labelled with it; the loopback rows are the ones measured without any assumption.
 */
export function shardGoals(shards: readonly ShardSummary[]): Goal[] {
  return shards.flatMap((run): Goal[] => {
    if (run.shards === 0 || run.sns === undefined) return [];
    const rttMs = run.sns.rttMs;
    const unsharded = shards.find(
      (other) => other.shards === 0 && other.sns !== undefined && other.sns.rttMs === rttMs,
    )?.sns;
    return unsharded === undefined ? [] : [comparison(run, run.sns, unsharded)];
  });
}

function comparison(run: ShardSummary, sharded: PathSummary, unsharded: PathSummary): Goal {
  const speedUp = unsharded.p50Ms / sharded.p50Ms;
  const rate = sharded.messagesPerSecond / unsharded.messagesPerSecond;
  const at = sharded.rttMs > 0 ? `, emulated RTT ${sharded.rttMs} ms` : "";
  return {
    goal: `N=${run.clients}${at}: sharded (${run.shards} × ${run.pageSize}) faster than unsharded`,
    measured: `last client p50 ${fixed(sharded.p50Ms)} vs ${fixed(unsharded.p50Ms)} ms (${fixed(speedUp, 2)}×); ${fixed(sharded.messagesPerSecond)} vs ${fixed(unsharded.messagesPerSecond)} msgs/s (${fixed(rate, 2)}×)`,
    met: speedUp > 1 && rate > 1,
  };
}
