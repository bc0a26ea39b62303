import {
  DeleteObjectsCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  type S3Client,
} from "@aws-sdk/client-s3";
import { LIMITS } from "../contract.js";
import { ListPageDeserializer } from "./list-page.js";
import { connectionIdFromKey, connectionKey } from "./registrations.js";

/**
 * The connection registry as the dispatchers read it: the registered connections a ListObjectsV2
 * page at a time, and removing many at once. Registering and removing one connection is
 * registrations.ts, which $connect and $disconnect use without the S3 client.
 */

export { connectionIdFromKey, connectionKey, type RegistryEntry } from "./registrations.js";

/** A connection whose object could not be deleted by removeMany. */
export interface RemovalFailure {
  readonly connectionId: string;
  readonly code: string;
  readonly message: string;
}

export class Registry {
  /** Reads ListObjectsV2 pages for pages(): the keys and the continuation, nothing else. */
  private readonly listPages: ListPageDeserializer;

  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
    readonly prefix: string,
  ) {
    this.listPages = new ListPageDeserializer(s3);
  }

  /**
   * Removes many connections with DeleteObjects, at most LIMITS.s3PageSize keys per call. Returns
   * the ones S3 reported as not deleted; a failing call rejects.
   */
  async removeMany(connectionIds: readonly string[]): Promise<RemovalFailure[]> {
    const failures: RemovalFailure[] = [];
    for (let start = 0; start < connectionIds.length; start += LIMITS.s3PageSize) {
      const batch = connectionIds.slice(start, start + LIMITS.s3PageSize);
      const output = await this.s3.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: {
            Objects: batch.map((id) => ({ Key: connectionKey(this.prefix, id) })),
            Quiet: true,
          },
        }),
      );
      for (const error of output.Errors ?? []) {
        const connectionId =
          error.Key === undefined ? undefined : connectionIdFromKey(this.prefix, error.Key);
        failures.push({
          connectionId: connectionId ?? error.Key ?? "(unknown key)",
          code: error.Code ?? "Unknown",
          message: error.Message ?? "",
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
    let next: Promise<ListObjectsV2CommandOutput> | undefined = this.listPage(undefined);
    while (next !== undefined) {
      const page: ListObjectsV2CommandOutput = await next;
      next =
        page.IsTruncated === true && page.NextContinuationToken !== undefined
          ? this.listPage(page.NextContinuationToken)
          : undefined;
      const ids: string[] = [];
      for (const object of page.Contents ?? []) {
        const id =
          object.Key === undefined ? undefined : connectionIdFromKey(this.prefix, object.Key);
        if (id !== undefined) ids.push(id);
      }
      yield ids;
    }
  }

  private listPage(continuationToken: string | undefined): Promise<ListObjectsV2CommandOutput> {
    const command = new ListObjectsV2Command({
      Bucket: this.bucket,
      Prefix: this.prefix,
      MaxKeys: LIMITS.s3PageSize,
      ContinuationToken: continuationToken,
    });
    this.listPages.applyTo(command);
    const request: Promise<ListObjectsV2CommandOutput> = this.s3.send(command);
    // A prefetched page may never be awaited (the consumer stopped early): keep its failure from
    // surfacing as an unhandled rejection. Awaiting `request` still sees the error.
    request.catch(() => undefined);
    return request;
  }
}
