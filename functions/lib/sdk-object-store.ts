import { DeleteObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { ObjectStore } from "./object-store.js";

/**
 * The object store built on the SDK client: the reference object-store.ts is held to, and what the
 * handler tests install behind aws-sdk-client-mock. $connect and $disconnect do not bundle it (the
 * S3 client's size: see object-store.ts).
 */
export class SdkObjectStore implements ObjectStore {
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
}
