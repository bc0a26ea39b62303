/**
 * Faults the local stage can inject, all off unless asked for: a share of @connections calls
 * answered 410 (the connection is dropped, as when a client vanishes), 429 or 500, a delay before
 * every @connections answer, a share of S3 writes, lists and deletes answered 503, and a share of
 * function invocations that fail or time out. Written as `gone=0.1,throttle=0.05,slow=200`; a
 * kind's `-limit` caps how many it injects (`throttle=1,throttle-limit=40`: a burst of 40 429s).
 */
export interface FaultPlan {
  /** Share of @connections calls answered 410 GoneException, the connection dropped. */
  readonly gone?: number;
  /** Share of @connections calls answered 429 LimitExceededException. */
  readonly throttle?: number;
  /** Share of @connections calls answered 500 InternalServerErrorException. */
  readonly error?: number;
  /** Milliseconds added before every @connections answer. */
  readonly slow?: number;
  /** Share of S3 PutObject, ListObjectsV2 and DeleteObject(s) calls answered 503 SlowDown. */
  readonly s3?: number;
  /** Share of function invocations that fail as if the function threw. */
  readonly throws?: number;
  /** Share of function invocations that fail as if the function timed out. */
  readonly timeout?: number;
  /** At most this many faults of a kind; after that the kind is off (a burst, with share 1). */
  readonly limits?: Readonly<Partial<Record<ShareFault, number>>>;
}

const SHARES = ["gone", "throttle", "error", "s3", "throws", "timeout"] as const;

/** The faults drawn as a share of calls. */
export type ShareFault = (typeof SHARES)[number];

/** Every kind of fault, `slow` counting the @connections answers it delayed. */
export type FaultKind = ShareFault | "slow";

export const FAULT_KINDS: readonly FaultKind[] = [...SHARES, "slow"];

export class FaultPlanError extends Error {
  override readonly name = "FaultPlanError";
}

const LIMIT_SUFFIX = "-limit";

/** Parses `name=value,…`; throws FaultPlanError naming what is wrong. */
export function parseFaultPlan(text: string): FaultPlan {
  const plan: Record<string, number> = {};
  const limits: Record<string, number> = {};
  for (const part of text.split(",").filter((p) => p.trim() !== "")) {
    const [name = "", value = ""] = part.split("=").map((p) => p.trim());
    const number = Number(value);
    const limited = name.endsWith(LIMIT_SUFFIX) ? name.slice(0, -LIMIT_SUFFIX.length) : undefined;
    if (name === "slow") {
      if (value === "" || !Number.isInteger(number) || number < 0) {
        throw new FaultPlanError(`slow takes whole milliseconds, e.g. slow=200 (got "${value}").`);
      }
      plan[name] = number;
    } else if ((SHARES as readonly string[]).includes(name)) {
      if (value === "" || !(number >= 0 && number <= 1)) {
        throw new FaultPlanError(
          `${name} takes a share from 0 to 1, e.g. ${name}=0.1 (got "${value}").`,
        );
      }
      plan[name] = number;
    } else if (limited !== undefined && (SHARES as readonly string[]).includes(limited)) {
      if (value === "" || !Number.isInteger(number) || number < 0) {
        throw new FaultPlanError(
          `${name} takes a whole number of faults, e.g. ${name}=40 (got "${value}").`,
        );
      }
      limits[limited] = number;
    } else {
      throw new FaultPlanError(
        `Unknown fault "${name}": use ${[...SHARES, "slow"].join(", ")}, or <kind>${LIMIT_SUFFIX} to cap a kind.`,
      );
    }
  }
  return Object.keys(limits).length === 0 ? plan : { ...plan, limits };
}

export type ConnectionsFault = "gone" | "throttle" | "error";

/** Whether the n-th draw (from 0) of a kind with this share injects it. */
type Draw = (kind: ShareFault, share: number, n: number) => boolean;

function zeroCounts(): Record<FaultKind, number> {
  return { gone: 0, throttle: 0, error: 0, s3: 0, throws: 0, timeout: 0, slow: 0 };
}

/**
 * Draws faults from a plan and counts what it injected. Shares are drawn with `random`
 * (injectable), or, from `FaultInjector.evenly`, spread evenly: exactly ⌊n × share⌋ of a kind's
 * first n draws hit, so a test knows how many faults it gets without depending on chance.
 */
export class FaultInjector {
  private current: FaultPlan;
  private draws = zeroCounts();
  private armed = zeroCounts();
  private readonly totals = zeroCounts();

  private readonly draw: Draw;

  /** `random` draws each share; "evenly" spreads each kind's faults over its draws. */
  constructor(plan: FaultPlan, random: (() => number) | "evenly" = Math.random) {
    this.current = plan;
    this.draw =
      random === "evenly"
        ? (_kind, share, n) => Math.floor((n + 1) * share) > Math.floor(n * share)
        : (_kind, share) => random() < share;
  }

  /** Faults at evenly spaced draws of each kind, the same on every run. */
  static evenly(plan: FaultPlan): FaultInjector {
    return new FaultInjector(plan, "evenly");
  }

  get plan(): FaultPlan {
    return this.current;
  }

  /** Replaces the plan; draws and limits start over, the counts of injected faults go on. */
  arm(plan: FaultPlan): void {
    this.current = plan;
    this.draws = zeroCounts();
    this.armed = zeroCounts();
  }

  /** How many faults of each kind were injected since the injector was made. */
  injected(): Readonly<Record<FaultKind, number>> {
    return { ...this.totals };
  }

  private hit(kind: ShareFault): boolean {
    const share = this.current[kind];
    if (share === undefined || share <= 0) return false;
    const limit = this.current.limits?.[kind];
    if (limit !== undefined && this.armed[kind] >= limit) return false;
    const n = this.draws[kind];
    this.draws[kind] += 1;
    if (!this.draw(kind, share, n)) return false;
    this.armed[kind] += 1;
    this.totals[kind] += 1;
    return true;
  }

  /** Drawn once per @connections call to a live connection, after its delay (`slowMs`). */
  connections(): ConnectionsFault | undefined {
    if (this.slowMs > 0) this.totals.slow += 1;
    if (this.hit("gone")) return "gone";
    if (this.hit("throttle")) return "throttle";
    if (this.hit("error")) return "error";
    return undefined;
  }

  get slowMs(): number {
    return this.current.slow ?? 0;
  }

  s3(): boolean {
    return this.hit("s3");
  }

  invocation(): "throws" | "timeout" | undefined {
    if (this.hit("throws")) return "throws";
    if (this.hit("timeout")) return "timeout";
    return undefined;
  }
}

/** No faults: what the stage runs with unless told otherwise. */
export const NO_FAULTS = new FaultInjector({});
