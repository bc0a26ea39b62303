import { createManagementClient, type Poster, SdkPoster } from "../../../functions/lib/poster.js";

/**
 * Bench variant (c): what `functions/lib/fast-poster.ts` is replaced with in the bench's
 * "sdk" bundle — the SDK client's PostToConnection, at delivery's usual concurrency.
 */
export function createFastPoster(endpoint: string): Poster {
  return new SdkPoster(createManagementClient(endpoint));
}
