/**
 * Faults the local stage can inject, all off unless asked for: a share of @connections calls
 * answered 410 (the connection is dropped, as when a client vanishes), 429 or 500, a delay before
 * every @connections answer, a share of S3 writes, lists and deletes answered 503, and a share of
 * function invocations that fail or time out. Written as `gone=0.1,throttle=0.05,slow=200`.
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
}

const SHARES = ["gone", "throttle", "error", "s3", "throws", "timeout"] as const;

export class FaultPlanError extends Error {
  override readonly name = "FaultPlanError";
}

/** Parses `name=value,…`; throws FaultPlanError naming what is wrong. */
export function parseFaultPlan(text: string): FaultPlan {
  const plan: Record<string, number> = {};
  for (const part of text.split(",").filter((p) => p.trim() !== "")) {
    const [name = "", value = ""] = part.split("=").map((p) => p.trim());
    const number = Number(value);
    if (name === "slow") {
      if (!Number.isInteger(number) || number < 0) {
        throw new FaultPlanError(`slow takes whole milliseconds, e.g. slow=200 (got "${value}").`);
      }
    } else if ((SHARES as readonly string[]).includes(name)) {
      if (value === "" || !(number >= 0 && number <= 1)) {
        throw new FaultPlanError(
          `${name} takes a share from 0 to 1, e.g. ${name}=0.1 (got "${value}").`,
        );
      }
    } else {
      throw new FaultPlanError(`Unknown fault "${name}": use ${[...SHARES, "slow"].join(", ")}.`);
    }
    plan[name] = number;
  }
  return plan;
}

export type ConnectionsFault = "gone" | "throttle" | "error";

/** Draws faults from a plan; `random` is injectable so tests can be exact. */
export class FaultInjector {
  constructor(
    readonly plan: FaultPlan,
    private readonly random: () => number = Math.random,
  ) {}

  private hit(share: number | undefined): boolean {
    return share !== undefined && share > 0 && this.random() < share;
  }

  connections(): ConnectionsFault | undefined {
    if (this.hit(this.plan.gone)) return "gone";
    if (this.hit(this.plan.throttle)) return "throttle";
    if (this.hit(this.plan.error)) return "error";
    return undefined;
  }

  get slowMs(): number {
    return this.plan.slow ?? 0;
  }

  s3(): boolean {
    return this.hit(this.plan.s3);
  }

  invocation(): "throws" | "timeout" | undefined {
    if (this.hit(this.plan.throws)) return "throws";
    if (this.hit(this.plan.timeout)) return "timeout";
    return undefined;
  }
}

/** No faults: what the stage runs with unless told otherwise. */
export const NO_FAULTS = new FaultInjector({});
