import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import type { ListPage } from "./list-page.js";
import type { KeyFailure, ObjectListing, ObjectStore } from "./object-store.js";

/**
 * The object store built on the SDK client: the reference object-store.ts is held to, and what the
 * handler tests install behind aws-sdk-client-mock. The functions do not bundle it (the S3 client's
 * size: see object-store.ts).
 */
export class SdkObjectStore implements ObjectStore, ObjectListing {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async put(key: string, body: string, contentType: string): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType }),
    );
  }

  async remove(key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  async listPage(
    prefix: string,
    maxKeys: number,
    continuationToken: string | undefined,
  ): Promise<ListPage> {
    const page = await this.s3.send(
      new ListObjectsV2Command({
        Bucket: this.bucket,
        Prefix: prefix,
        MaxKeys: maxKeys,
        ContinuationToken: continuationToken,
      }),
    );
    return {
      keys: (page.Contents ?? []).flatMap((object) =>
        object.Key === undefined ? [] : [object.Key],
      ),
      isTruncated: page.IsTruncated === true,
      nextContinuationToken: page.NextContinuationToken,
    };
  }

  async deleteMany(keys: readonly string[]): Promise<KeyFailure[]> {
    const output = await this.s3.send(
      new DeleteObjectsCommand({
        Bucket: this.bucket,
        Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true },
      }),
    );
    return (output.Errors ?? []).map((error) => ({
      key: error.Key ?? "(unknown key)",
      code: error.Code ?? "Unknown",
      message: error.Message ?? "",
    }));
  }
}
