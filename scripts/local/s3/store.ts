import { createHash } from "node:crypto";

export interface StoredObject {
  readonly body: Buffer;
  /** Quoted MD5 of the body, as S3 reports single-part ETags. */
  readonly etag: string;
  readonly lastModified: Date;
  readonly contentType: string;
  /** x-amz-meta-* headers, names lower-cased without the prefix. */
  readonly metadata: Readonly<Record<string, string>>;
}

export interface ListPage {
  readonly objects: readonly { readonly key: string; readonly object: StoredObject }[];
  readonly commonPrefixes: readonly string[];
  /** The key (or common prefix) to continue after, when there is more. */
  readonly continueAfter?: string;
}

export class NoSuchBucketError extends Error {
  override readonly name = "NoSuchBucketError";
  constructor(readonly bucket: string) {
    super(`The bucket ${bucket} does not exist.`);
  }
}

export class BucketNotEmptyError extends Error {
  override readonly name = "BucketNotEmptyError";
  constructor(readonly bucket: string) {
    super(`The bucket ${bucket} is not empty: delete its objects first.`);
  }
}

/** S3 lists keys in UTF-8 byte order, which is code point order (not UTF-16 unit order). */
function compareKeys(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.codePointAt(i) ?? 0;
    const y = b.codePointAt(i) ?? 0;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

class Bucket {
  readonly objects = new Map<string, StoredObject>();
  readonly createdAt = new Date();
  /** Keys in list order, rebuilt lazily after a write. */
  private sorted: string[] | undefined;

  keys(): readonly string[] {
    this.sorted ??= [...this.objects.keys()].sort(compareKeys);
    return this.sorted;
  }

  changed(): void {
    this.sorted = undefined;
  }
}

/** Buckets and objects held in memory: the local stage's S3. */
export class S3Store {
  private readonly buckets = new Map<string, Bucket>();

  createBucket(name: string): void {
    if (!this.buckets.has(name)) this.buckets.set(name, new Bucket());
  }

  hasBucket(name: string): boolean {
    return this.buckets.has(name);
  }

  deleteBucket(name: string): void {
    const bucket = this.bucket(name);
    if (bucket.objects.size > 0) throw new BucketNotEmptyError(name);
    this.buckets.delete(name);
  }

  listBuckets(): { name: string; createdAt: Date }[] {
    return [...this.buckets.entries()]
      .map(([name, bucket]) => ({ name, createdAt: bucket.createdAt }))
      .sort((a, b) => compareKeys(a.name, b.name));
  }

  put(
    bucketName: string,
    key: string,
    body: Buffer,
    options: { contentType?: string; metadata?: Record<string, string> } = {},
  ): StoredObject {
    const bucket = this.bucket(bucketName);
    const object: StoredObject = {
      body,
      etag: `"${createHash("md5").update(body).digest("hex")}"`,
      // S3 timestamps have second precision.
      lastModified: new Date(Math.floor(Date.now() / 1000) * 1000),
      contentType: options.contentType ?? "application/octet-stream",
      metadata: options.metadata ?? {},
    };
    if (!bucket.objects.has(key)) bucket.changed();
    bucket.objects.set(key, object);
    return object;
  }

  get(bucketName: string, key: string): StoredObject | undefined {
    return this.bucket(bucketName).objects.get(key);
  }

  /** Deleting a missing key succeeds, as in S3. */
  delete(bucketName: string, key: string): void {
    const bucket = this.bucket(bucketName);
    if (bucket.objects.delete(key)) bucket.changed();
  }

  list(
    bucketName: string,
    options: { prefix: string; after?: string; delimiter?: string; maxKeys: number },
  ): ListPage {
    const bucket = this.bucket(bucketName);
    const keys = bucket.keys();
    let index = 0;
    if (options.after !== undefined) {
      const after = options.after;
      // First key strictly after `after` (binary search over the sorted keys).
      let low = 0;
      let high = keys.length;
      while (low < high) {
        const middle = (low + high) >>> 1;
        if (compareKeys(keys[middle] as string, after) <= 0) low = middle + 1;
        else high = middle;
      }
      index = low;
    }
    const objects: { key: string; object: StoredObject }[] = [];
    const commonPrefixes: string[] = [];
    let last: string | undefined;
    for (; index < keys.length; index++) {
      const key = keys[index] as string;
      if (!key.startsWith(options.prefix)) {
        if (compareKeys(key, options.prefix) > 0) break;
        continue;
      }
      const delimiterAt =
        options.delimiter === undefined || options.delimiter === ""
          ? -1
          : key.indexOf(options.delimiter, options.prefix.length);
      const commonPrefix =
        delimiterAt < 0 ? undefined : key.slice(0, delimiterAt + (options.delimiter?.length ?? 0));
      if (commonPrefix !== undefined && commonPrefix === commonPrefixes.at(-1)) continue;
      if (objects.length + commonPrefixes.length >= options.maxKeys) {
        return { objects, commonPrefixes, ...(last === undefined ? {} : { continueAfter: last }) };
      }
      if (commonPrefix === undefined) {
        objects.push({ key, object: bucket.objects.get(key) as StoredObject });
        last = key;
      } else {
        commonPrefixes.push(commonPrefix);
        // Continue after every key under this common prefix.
        last = `${commonPrefix}\u{10ffff}`;
      }
    }
    return { objects, commonPrefixes };
  }

  private bucket(name: string): Bucket {
    const bucket = this.buckets.get(name);
    if (bucket === undefined) throw new NoSuchBucketError(name);
    return bucket;
  }
}
