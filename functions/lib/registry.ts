import { LIMITS } from "../contract.js";
import type { ListPage } from "./list-page.js";
import type { ObjectListing } from "./object-store.js";
import { connectionIdFromKey, connectionKey } from "./registrations.js";

/**
 * The connection registry as the dispatchers read it: the registered connections a ListObjectsV2
 * page at a time, and removing many at once, through the signed S3 calls of object-store.ts.
 * Registering and removing one connection is registrations.ts.
 */

export { connectionIdFromKey, connectionKey, type RegistryEntry } from "./registrations.js";

/** A connection whose object could not be deleted by removeMany. */
export interface RemovalFailure {
  readonly connectionId: string;
  readonly code: string;
  readonly message: string;
}

export class Registry {
  constructor(
    private readonly bucket: ObjectListing,
    readonly prefix: string,
  ) {}

  /**
   * Removes many connections with DeleteObjects, at most LIMITS.s3PageSize keys per call. Returns
   * the ones S3 reported as not deleted; a failing call rejects.
   */
  async removeMany(connectionIds: readonly string[]): Promise<RemovalFailure[]> {
    const failures: RemovalFailure[] = [];
    for (let start = 0; start < connectionIds.length; start += LIMITS.s3PageSize) {
      const batch = connectionIds.slice(start, start + LIMITS.s3PageSize);
      const refused = await this.bucket.deleteMany(
        batch.map((id) => connectionKey(this.prefix, id)),
      );
      for (const { key, code, message } of refused) {
        failures.push({
          connectionId: connectionIdFromKey(this.prefix, key) ?? key,
          code,
          message,
        });
      }
    }
    return failures;
  }

  /**
   * The registered connection ids, a ListObjectsV2 page at a time. The next page is requested as
   * soon as a page is handed out, so the caller can post to page 1 while page 2 loads.
   */
  async *pages(): AsyncGenerator<string[], void, undefined> {
    let next: Promise<ListPage> | undefined = this.listPage(undefined);
    while (next !== undefined) {
      const page: ListPage = await next;
      next =
        page.isTruncated && page.nextContinuationToken !== undefined
          ? this.listPage(page.nextContinuationToken)
          : undefined;
      const ids: string[] = [];
      for (const key of page.keys) {
        const id = connectionIdFromKey(this.prefix, key);
        if (id !== undefined) ids.push(id);
      }
      yield ids;
    }
  }

  private listPage(continuationToken: string | undefined): Promise<ListPage> {
    const request = this.bucket.listPage(this.prefix, LIMITS.s3PageSize, continuationToken);
    // A prefetched page may never be awaited (the consumer stopped early): keep its failure from
    // surfacing as an unhandled rejection. Awaiting `request` still sees the error.
    request.catch(() => undefined);
    return request;
  }
}
