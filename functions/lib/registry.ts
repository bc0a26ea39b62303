import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { LIMITS } from "../contract.js";
import { ListPageDeserializer } from "./list-page.js";

/**
 * The connection registry: one S3 object per open connection, keyed by
 * prefix + base64url(connection id). Connection ids contain `+ / =` and mixed case; base64url keeps
 * keys free of `/` (no accidental "folders") and of characters that need escaping.
 */

/** The body of a connection's object. */
export interface RegistryEntry {
  readonly connectionId: string;
  /** ISO 8601. */
  readonly connectedAt: string;
  readonly sourceIp?: string;
}

/** A connection whose object could not be deleted by removeMany. */
export interface RemovalFailure {
  readonly connectionId: string;
  readonly code: string;
  readonly message: string;
}

export function connectionKey(prefix: string, connectionId: string): string {
  return prefix + Buffer.from(connectionId, "utf8").toString("base64url");
}

/** The connection id a key holds, or undefined for a key this registry did not write. */
export function connectionIdFromKey(prefix: string, key: string): string | undefined {
  if (!key.startsWith(prefix)) return undefined;
  const encoded = key.slice(prefix.length);
  if (encoded === "" || !/^[A-Za-z0-9_-]+$/.test(encoded)) return undefined;
  const connectionId = Buffer.from(encoded, "base64url").toString("utf8");
  // Only keys that round-trip are ours: anything else (a stray upload) is not a connection.
  return connectionKey(prefix, connectionId) === key ? connectionId : undefined;
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

  /** Registers a connection. One PutObject: it either stores the whole object or nothing. */
  async add(entry: RegistryEntry): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: connectionKey(this.prefix, entry.connectionId),
        Body: JSON.stringify(entry),
        ContentType: "application/json",
      }),
    );
  }

  /** Removes a connection; removing one that is not there succeeds (S3 deletes are idempotent). */
  async remove(connectionId: string): Promise<void> {
    await this.s3.send(
      new DeleteObjectCommand({
        Bucket: this.bucket,
        Key: connectionKey(this.prefix, connectionId),
      }),
    );
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
