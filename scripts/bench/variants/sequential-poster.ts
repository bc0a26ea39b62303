import type { PostOutcome } from "../../../functions/lib/poster.js";
import { createManagementClient, type Poster, SdkPoster } from "../../../functions/lib/poster.js";

/**
 * Bench variant (d): one SDK PostToConnection after another, as the project first fanned out
 * (`for (const id of ids) await client.send(…)`). Delivery still asks for many posts at once;
 * they wait for each other here.
 */
class SequentialPoster implements Poster {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly inner: Poster) {}

  post(connectionId: string, frame: string): Promise<PostOutcome> {
    const outcome = this.tail.then(() => this.inner.post(connectionId, frame));
    this.tail = outcome;
    return outcome;
  }
}

export function createFastPoster(endpoint: string): Poster {
  return new SequentialPoster(new SdkPoster(createManagementClient(endpoint)));
}
