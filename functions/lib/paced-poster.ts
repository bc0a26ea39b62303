import type { Poster, PostOutcome } from "./poster.js";
import type { TokenBucket } from "./token-bucket.js";

/**
 * A poster that spends a token of its bucket before every post and slows the bucket down when a
 * post comes back throttled (429) after the inner poster's own retries. A post whose token would
 * come after the deadline is not sent: it is reported as a failure without a status, which
 * delivery counts as retryable, hence undelivered.
 */
export class PacedPoster implements Poster {
  constructor(
    private readonly inner: Poster,
    private readonly bucket: TokenBucket,
    private readonly deadline: number,
  ) {}

  async post(connectionId: string, frame: string): Promise<PostOutcome> {
    if (!(await this.bucket.acquire(this.deadline))) {
      return {
        status: "failed",
        error: "Not posted: the shard's pace reached its deadline before this connection's turn",
      };
    }
    const outcome = await this.inner.post(connectionId, frame);
    if (outcome.status === "failed" && outcome.statusCode === 429) this.bucket.throttled();
    else this.bucket.accepted();
    return outcome;
  }
}
