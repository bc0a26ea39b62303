import { createHash, createHmac, hash } from "node:crypto";
import { Sha256 } from "@smithy/core/checksum";
import { escapeUri, extendedEncodeURIComponent } from "@smithy/core/protocols";
import { createScope, getSigningKey } from "@smithy/signature-v4";
import type { AwsCredentialIdentity } from "@smithy/types";

/**
 * SigV4 for one request shape only: POST {base}/@connections/{id} with an octet-stream body, the
 * request PostToConnection is. The result is byte for byte what SignatureV4.sign produces for it
 * (post-signer.test.ts checks both on generated ids, frames, dates and credentials), but the parts
 * that never change within a fan-out are worked out once instead of on every post:
 * - the signing key, derived with the signer's own getSigningKey, per credentials and day (the
 *   signer re-derives its cache key, an HMAC of the secret, on every call);
 * - the canonical path prefix, the header names, the credential scope;
 * - the payload hash and length, per frame (a fan-out posts one frame to every connection);
 * - the x-amz-date string, per second.
 * What remains per post is the id's encoding, one SHA-256 of the canonical request and one HMAC.
 */

const ALGORITHM = "AWS4-HMAC-SHA256";
const CONTENT_TYPE = "application/octet-stream";

/** One signed POST, ready to send. */
export interface SignedPost {
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

interface DayKey {
  readonly credentials: AwsCredentialIdentity;
  readonly shortDate: string;
  readonly scope: string;
  readonly key: Buffer;
  /** Header list and credential part of Authorization for these credentials. */
  readonly signedHeaders: string;
  readonly token: string | undefined;
}

/** The SDK trims and folds whitespace in header values before signing them. */
function canonicalValue(value: string): string {
  return value
    .replace(/[\r\n]/g, " ")
    .replace(/[ \t]+/g, " ")
    .replace(/^ | $/g, "");
}

export class PostSigner {
  /** The path as sent, up to and including "/@connections/". */
  private readonly pathPrefix: string;
  /** The same, as SigV4 canonicalizes it (segments normalized and escaped once more). */
  private readonly canonicalPrefix: string;
  private readonly host: string;
  private day: DayKey | undefined;
  private second = Number.NaN;
  private longDate = "";
  private frame: string | undefined;
  private frameHash = "";
  private frameLength = "";

  constructor(
    endpoint: URL,
    private readonly region: string,
    private readonly service: string,
  ) {
    this.pathPrefix = `${endpoint.pathname.replace(/\/+$/, "")}/@connections/`;
    const segments: string[] = [];
    for (const segment of this.pathPrefix.split("/")) {
      if (segment === "" || segment === ".") continue;
      if (segment === "..") segments.pop();
      else segments.push(segment);
    }
    this.canonicalPrefix = `/${escapeUri(segments.join("/")).replace(/%2F/g, "/")}/`;
    this.host = endpoint.host;
  }

  /** The path a post to `connectionId` goes to: the id encoded as the SDK encodes path labels. */
  path(connectionId: string): string {
    return this.pathPrefix + extendedEncodeURIComponent(connectionId);
  }

  /**
   * Whether sign() covers this id. An id encoding to "", "." or ".." would be a path segment
   * SigV4 normalizes away; no real connection id does, and the caller signs those with the SDK's
   * signer instead. The encoding leaves "." as it is and turns every other character into
   * something else, so only the ids "", "." and ".." encode to those: no need to encode here.
   */
  covers(connectionId: string): boolean {
    return connectionId !== "" && connectionId !== "." && connectionId !== "..";
  }

  /** Signs a post of `frame` to `connectionId` at `now` with `credentials`. */
  async sign(
    connectionId: string,
    frame: string,
    credentials: AwsCredentialIdentity,
    now: number,
  ): Promise<SignedPost> {
    const signed = this.signWithCachedKey(connectionId, frame, credentials, now);
    if (signed !== undefined) return signed;
    await this.dayKey(credentials, this.dateOf(now).slice(0, 8));
    return this.signWithCachedKey(connectionId, frame, credentials, now) as SignedPost;
  }

  /**
   * sign() without waiting, for the posts of a fan-out after its first: undefined when the
   * signing key of these credentials and day is not derived yet (sign() derives it).
   */
  signWithCachedKey(
    connectionId: string,
    frame: string,
    credentials: AwsCredentialIdentity,
    now: number,
  ): SignedPost | undefined {
    const longDate = this.dateOf(now);
    const day = this.day;
    if (
      day === undefined ||
      day.credentials !== credentials ||
      day.shortDate !== longDate.slice(0, 8)
    ) {
      return undefined;
    }
    const encodedId = extendedEncodeURIComponent(connectionId);
    if (frame !== this.frame) {
      this.frame = frame;
      this.frameHash = createHash("sha256").update(frame, "utf8").digest("hex");
      this.frameLength = String(Buffer.byteLength(frame, "utf8"));
    }
    const tokenLine = day.token === undefined ? "" : `x-amz-security-token:${day.token}\n`;
    const canonicalRequest = `POST\n${this.canonicalPrefix}${escapeUri(encodedId)}\n\ncontent-length:${this.frameLength}\ncontent-type:${CONTENT_TYPE}\nhost:${this.host}\nx-amz-content-sha256:${this.frameHash}\nx-amz-date:${longDate}\n${tokenLine}\n${day.signedHeaders}\n${this.frameHash}`;
    const stringToSign = `${ALGORITHM}\n${longDate}\n${day.scope}\n${hash("sha256", canonicalRequest, "hex")}`;
    const signature = createHmac("sha256", day.key).update(stringToSign, "utf8").digest("hex");
    const headers: Record<string, string> = {
      "content-type": CONTENT_TYPE,
      "content-length": this.frameLength,
      host: this.host,
      "x-amz-date": longDate,
    };
    if (credentials.sessionToken) headers["x-amz-security-token"] = credentials.sessionToken;
    headers["x-amz-content-sha256"] = this.frameHash;
    headers.authorization = `${ALGORITHM} Credential=${credentials.accessKeyId}/${day.scope}, SignedHeaders=${day.signedHeaders}, Signature=${signature}`;
    return { path: this.pathPrefix + encodedId, headers, body: frame };
  }

  /** `YYYYMMDDTHHMMSSZ`, worked out once per second. */
  private dateOf(now: number): string {
    const second = Math.floor(now / 1000);
    if (second !== this.second) {
      this.second = second;
      this.longDate = new Date(second * 1000)
        .toISOString()
        .replace(/\.\d{3}Z$/, "Z")
        .replace(/[-:]/g, "");
    }
    return this.longDate;
  }

  private async dayKey(credentials: AwsCredentialIdentity, shortDate: string): Promise<DayKey> {
    const cached = this.day;
    if (
      cached !== undefined &&
      cached.credentials === credentials &&
      cached.shortDate === shortDate
    )
      return cached;
    const key = await getSigningKey(Sha256, credentials, shortDate, this.region, this.service);
    const token = credentials.sessionToken ? canonicalValue(credentials.sessionToken) : undefined;
    const day: DayKey = {
      credentials,
      shortDate,
      scope: createScope(shortDate, this.region, this.service),
      key: Buffer.from(key),
      signedHeaders: `content-length;content-type;host;x-amz-content-sha256;x-amz-date${token === undefined ? "" : ";x-amz-security-token"}`,
      token,
    };
    this.day = day;
    return day;
  }
}
