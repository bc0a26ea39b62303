import { createHmac, hash, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";
import { Sha256 } from "@smithy/core/checksum";
import {
  ALGORITHM_IDENTIFIER,
  createScope,
  KEY_TYPE_IDENTIFIER,
  SignatureV4,
  UNSIGNED_PAYLOAD,
} from "@smithy/signature-v4";
import type { HttpRequest } from "@smithy/types";
import { canonicalHeaders, receivedHeader } from "./canonical-headers.js";
import {
  rejectionFor,
  type SignatureProblem,
  type SignatureRejection,
} from "./signature-rejection.js";

export type { SignatureRejection } from "./signature-rejection.js";

/**
 * SigV4 on the local stage's endpoints, as AWS requires it (issue 12, finding 9). Every listener
 * (`@connections`, S3, SNS, and any later one) calls `checkSignature` before it acts on a request:
 *
 * - A request without a signature (no `Authorization: AWS4-HMAC-SHA256 …` header, no presigned
 *   `X-Amz-Algorithm`/`X-Amz-Signature` query) gets the service's own 403. A browser's
 *   cross-origin form POST cannot carry a signature, so a web page cannot publish or post.
 * - Loopback (the default): any access key is accepted, as local AWS emulators conventionally do,
 *   so the AWS CLI and boto3 keep working with whatever profile a user has. A request made with
 *   the stage's own access key (the credentials its functions get) must verify.
 * - Strict (the stage bound to a non-loopback interface): only the stage's access key is
 *   accepted, and every signature is verified.
 * - Either way a signature dated more than the service's window away from now is refused, and an
 *   expired presigned URL too.
 *
 * Verifying means signing the canonical request again with the SDK's own signer
 * (@smithy/signature-v4: the same canonical path and query code the clients sign with; the
 * canonical headers come from canonical-headers.ts, held to the SDK's by a property test) and
 * comparing in constant time. AWS's error shapes for each service are in signature-rejection.ts.
 *
 * Every post of a fan-out passes through here, so the check is kept cheap: headers read from
 * rawHeaders, the date, scope and header list of the request before reused when they repeat,
 * one-shot hashes. Measured alone on a captured @connections post, it costs about 0.6 of what the
 * SDK-only route did.
 */

/** The signing name of the service a listener stands in for. */
export type SignedService = "s3" | "sns" | "execute-api" | "lambda";

export interface StageCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface SignaturePolicy {
  readonly service: SignedService;
  /** Only the stage's own access key is accepted (the stage is bound to a non-loopback host). */
  readonly strict: boolean;
  /** The credentials the local stage gives its functions. */
  readonly stageCredentials: StageCredentials;
  /** The clock; Date.now by default. */
  readonly now?: () => number;
}

/** What a listener is given: the policy without the service, which the listener knows. */
export type SignatureSettings = Omit<SignaturePolicy, "service">;

/**
 * The loopback stage's credentials: fixed and well known, like every local emulator's, because on
 * 127.0.0.1 only local processes reach the stage and any other key is accepted anyway. The smoke
 * tools (smoke/aws-access.ts) sign with the same pair, so their requests are verified too.
 */
export const LOOPBACK_CREDENTIALS: StageCredentials = {
  accessKeyId: "local",
  secretAccessKey: "local",
};

/** The default: loopback rules with the loopback stage's credentials. */
export const LOOPBACK_SIGNATURES: SignatureSettings = {
  strict: false,
  stageCredentials: LOOPBACK_CREDENTIALS,
};

/** Fresh credentials for a stage others can reach: a random key id and 240-bit secret. */
export function generateStageCredentials(): StageCredentials {
  return {
    accessKeyId: `LOCAL${randomBytes(8).toString("hex").toUpperCase()}`,
    secretAccessKey: randomBytes(30).toString("base64url"),
  };
}

/** 127.0.0.0/8, ::1, and `localhost`: where only this machine's processes can connect. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (bare === "localhost") return true;
  if (isIP(bare) === 4) return bare.startsWith("127.");
  return bare === "::1" || bare.startsWith("::ffff:127.");
}

/** How far a signature's date may be from now: S3 and the query services 15 min, the rest 5. */
const SKEW_WINDOW_MS: Record<SignedService, number> = {
  s3: 15 * 60_000,
  sns: 15 * 60_000,
  "execute-api": 5 * 60_000,
  lambda: 5 * 60_000,
};

/** Presigned URLs live at most a week (SigV4). */
const MAX_PRESIGNED_SECONDS = 7 * 24 * 3600;

/** What a request says about its signature, header or query alike. */
interface Claim {
  readonly presigned: boolean;
  readonly accessKeyId: string;
  readonly scopeDate: string;
  readonly region: string;
  readonly service: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
  /** X-Amz-Date, YYYYMMDD'T'HHMMSS'Z'. */
  readonly longDate: string;
  /** longDate as epoch milliseconds. */
  readonly signedAt: number;
  readonly expiresSeconds?: number;
}

/** The raw query's pairs, decoded but not re-encoded; undefined when an escape is broken. */
function queryOf(url: string): Record<string, string | string[]> | undefined {
  const mark = url.indexOf("?");
  const query: Record<string, string | string[]> = {};
  if (mark < 0) return query;
  try {
    for (const pair of url.slice(mark + 1).split("&")) {
      if (pair === "") continue;
      const equals = pair.indexOf("=");
      const name = decodeURIComponent(equals < 0 ? pair : pair.slice(0, equals));
      const value = equals < 0 ? "" : decodeURIComponent(pair.slice(equals + 1));
      const existing = query[name];
      if (existing === undefined) query[name] = value;
      else query[name] = Array.isArray(existing) ? [...existing, value] : [existing, value];
    }
  } catch {
    return undefined;
  }
  return query;
}

function single(query: Record<string, string | string[]>, name: string): string | undefined {
  const value = query[name];
  return Array.isArray(value) ? value[0] : value;
}

const LONG_DATE = /^\d{8}T\d{6}Z$/;

/**
 * The parts of a signature that repeat from one request to the next (the date within a second,
 * the credential scope, the signed header list) are parsed once and kept until they change: every
 * post of a fan-out carries the same ones.
 */
function lastParsed<T>(parse: (text: string) => T): (text: string) => T {
  let lastText: string | undefined;
  let last: T;
  return (text) => {
    if (text !== lastText) {
      last = parse(text);
      lastText = text;
    }
    return last;
  };
}

const parseLongDate = lastParsed((text: string): number | undefined => {
  if (!LONG_DATE.test(text)) return undefined;
  const digits = (from: number, to: number) => Number(text.slice(from, to));
  const time = Date.UTC(
    digits(0, 4),
    digits(4, 6) - 1,
    digits(6, 8),
    digits(9, 11),
    digits(11, 13),
    digits(13, 15),
  );
  return Number.isNaN(time) ? undefined : time;
});

function longDateOf(time: number): string {
  return new Date(time)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
}

interface CredentialScope {
  readonly accessKeyId: string;
  readonly scopeDate: string;
  readonly region: string;
  readonly service: string;
}

/** `AKID/20261201/us-east-1/sns/aws4_request` into its parts. */
const parseCredential = lastParsed((text: string): CredentialScope | undefined => {
  const parts = text.split("/");
  if (parts.length !== 5 || parts[4] !== "aws4_request" || parts[0] === "") return undefined;
  const [accessKeyId, scopeDate, region, service] = parts as [string, string, string, string];
  return { accessKeyId, scopeDate, region, service };
});

const parseSignedHeaders = lastParsed((text: string): readonly string[] => text.split(";"));

type Parsed = { readonly claim: Claim } | { readonly problem: SignatureProblem };

function headerClaim(request: IncomingMessage, authorization: string): Parsed {
  if (!authorization.startsWith(`${ALGORITHM_IDENTIFIER} `)) {
    return {
      problem: {
        kind: "malformed",
        detail: `Only ${ALGORITHM_IDENTIFIER} (SigV4) Authorization headers are supported.`,
      },
    };
  }
  let credentialText = "";
  let signedHeaders: string | undefined;
  let signature: string | undefined;
  for (const part of authorization.slice(ALGORITHM_IDENTIFIER.length + 1).split(",")) {
    const equals = part.indexOf("=");
    if (equals <= 0) continue;
    const value = part.slice(equals + 1).trim();
    switch (part.slice(0, equals).trim()) {
      case "Credential":
        credentialText = value;
        break;
      case "SignedHeaders":
        signedHeaders = value;
        break;
      case "Signature":
        signature = value;
        break;
    }
  }
  const credential = parseCredential(credentialText);
  const longDate = receivedHeader(request.rawHeaders, "x-amz-date");
  const signedAt = longDate === undefined ? undefined : parseLongDate(longDate);
  if (credential === undefined || !signedHeaders || !signature) {
    return {
      problem: {
        kind: "malformed",
        detail:
          "Authorization header requires 'Credential' (AKID/date/region/service/aws4_request), 'SignedHeaders' and 'Signature' parameters.",
      },
    };
  }
  if (longDate === undefined || signedAt === undefined) {
    return {
      problem: {
        kind: "malformed",
        detail: "Authorization header requires an 'X-Amz-Date' header (YYYYMMDD'T'HHMMSS'Z').",
      },
    };
  }
  return {
    claim: {
      presigned: false,
      ...credential,
      signedHeaders: parseSignedHeaders(signedHeaders),
      signature,
      longDate,
      signedAt,
    },
  };
}

function queryClaim(query: Record<string, string | string[]>): Parsed {
  const algorithm = single(query, "X-Amz-Algorithm");
  const credential = parseCredential(single(query, "X-Amz-Credential") ?? "");
  const longDate = single(query, "X-Amz-Date") ?? "";
  const expires = Number(single(query, "X-Amz-Expires"));
  const signedHeaders = single(query, "X-Amz-SignedHeaders");
  const signature = single(query, "X-Amz-Signature");
  const signedAt = parseLongDate(longDate);
  if (
    algorithm !== ALGORITHM_IDENTIFIER ||
    credential === undefined ||
    signedAt === undefined ||
    !Number.isInteger(expires) ||
    expires < 1 ||
    expires > MAX_PRESIGNED_SECONDS ||
    !signedHeaders ||
    !signature
  ) {
    return {
      problem: {
        kind: "malformed",
        detail: `A presigned URL needs X-Amz-Algorithm=${ALGORITHM_IDENTIFIER}, X-Amz-Credential, X-Amz-Date, X-Amz-Expires (1 to ${MAX_PRESIGNED_SECONDS} seconds), X-Amz-SignedHeaders and X-Amz-Signature.`,
      },
    };
  }
  return {
    claim: {
      presigned: true,
      ...credential,
      signedHeaders: parseSignedHeaders(signedHeaders),
      signature,
      longDate,
      signedAt,
      expiresSeconds: expires,
    },
  };
}

/**
 * Derived signing keys (four HMACs each), by secret and scope: every request of a day signed for
 * one region and service shares one. Bounded, oldest first out, since scopes are the client's to
 * choose. The secret is part of the key, so a key derived for one stage's secret never verifies a
 * signature made with another.
 */
const SIGNING_KEYS_MAX = 64;
const signingKeys = new Map<string, Buffer>();

function signingKey(secret: string, scopeDate: string, region: string, service: string): Buffer {
  const cacheKey = `${secret}\n${scopeDate}\n${region}\n${service}`;
  let key = signingKeys.get(cacheKey);
  if (key === undefined) {
    key = Buffer.from(`AWS4${secret}`);
    for (const part of [scopeDate, region, service, KEY_TYPE_IDENTIFIER]) {
      key = createHmac("sha256", key).update(part).digest();
    }
    if (signingKeys.size >= SIGNING_KEYS_MAX) {
      signingKeys.delete(signingKeys.keys().next().value as string);
    }
    signingKeys.set(cacheKey, key);
  }
  return key;
}

/** How many derived signing keys are cached (for the tests of the bound). */
export function cachedSigningKeys(): number {
  return signingKeys.size;
}

/**
 * The SDK's signer, asked for the canonical request of a request it did not build itself (its
 * canonical path and query code, the same the clients sign with), given the canonical headers. The string to sign and
 * the signature over it are SigV4's last two steps, done here with a cached signing key.
 */
class SignatureCheck extends SignatureV4 {
  constructor(
    service: SignedService,
    private readonly credentials: StageCredentials,
  ) {
    super({
      service,
      region: "us-east-1",
      credentials,
      sha256: Sha256,
      // S3 signs the path as sent; every other service normalizes and escapes it again.
      uriEscapePath: service !== "s3",
      applyChecksum: false,
    });
  }

  expected(
    request: HttpRequest,
    claim: Claim,
    payloadHash: string,
  ): { signature: string; stringToSign: string; canonicalRequest: string } {
    const canonicalRequest = this.createCanonicalRequest(request, request.headers, payloadHash);
    const stringToSign = `${ALGORITHM_IDENTIFIER}\n${claim.longDate}\n${createScope(claim.scopeDate, claim.region, claim.service)}\n${hash("sha256", canonicalRequest, "hex")}`;
    const key = signingKey(
      this.credentials.secretAccessKey,
      claim.scopeDate,
      claim.region,
      claim.service,
    );
    const signature = createHmac("sha256", key).update(stringToSign).digest("hex");
    return { signature, stringToSign, canonicalRequest };
  }
}

const signers = new Map<string, SignatureCheck>();

function signerFor(service: SignedService, credentials: StageCredentials): SignatureCheck {
  const key = `${service}\n${credentials.accessKeyId}\n${credentials.secretAccessKey}`;
  let signer = signers.get(key);
  if (signer === undefined) {
    signer = new SignatureCheck(service, credentials);
    signers.set(key, signer);
  }
  return signer;
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** The payload hash the signature covers, and whether the body matches a hash it claims. */
function payloadHashOf(
  request: IncomingMessage,
  query: Record<string, string | string[]>,
  claim: Claim,
  service: SignedService,
  body: Buffer,
): { hash: string } | { problem: SignatureProblem } {
  const claimed =
    receivedHeader(request.rawHeaders, "x-amz-content-sha256") ??
    (claim.presigned ? single(query, "X-Amz-Content-Sha256") : undefined);
  if (claimed === undefined) {
    // S3 presigned URLs never cover the body; other services sign a hash of it.
    if (claim.presigned && service === "s3") return { hash: UNSIGNED_PAYLOAD };
    return { hash: hash("sha256", body, "hex") };
  }
  // UNSIGNED-PAYLOAD and the STREAMING-* forms of aws-chunked uploads: the body itself is not
  // covered by this signature (chunk signatures of STREAMING-AWS4-HMAC-SHA256-PAYLOAD are not
  // checked by the local stage).
  if (!/^[0-9a-f]{64}$/.test(claimed)) return { hash: claimed };
  const computed = hash("sha256", body, "hex");
  if (claimed !== computed) return { problem: { kind: "payload-mismatch", claimed, computed } };
  return { hash: claimed };
}

function findProblem(
  request: IncomingMessage,
  body: Buffer,
  policy: SignaturePolicy,
): SignatureProblem | undefined {
  const url = request.url ?? "/";
  const query = queryOf(url);
  const authorization = receivedHeader(request.rawHeaders, "authorization");
  const presigned =
    query !== undefined &&
    (single(query, "X-Amz-Algorithm") !== undefined ||
      single(query, "X-Amz-Signature") !== undefined);
  if (authorization === undefined && !presigned) return { kind: "missing" };
  if (query === undefined) {
    return { kind: "malformed", detail: "The query string has a malformed percent-escape." };
  }
  if (authorization !== undefined && presigned) {
    return {
      kind: "malformed",
      detail: "Only one auth mechanism allowed: an Authorization header or a presigned URL.",
    };
  }
  const parsed =
    authorization === undefined ? queryClaim(query) : headerClaim(request, authorization);
  if ("problem" in parsed) return parsed.problem;
  const { claim } = parsed;

  const now = (policy.now ?? Date.now)();
  const { signedAt } = claim;
  if (claim.expiresSeconds !== undefined && now > signedAt + claim.expiresSeconds * 1000) {
    return {
      kind: "expired",
      expiresSeconds: claim.expiresSeconds,
      expiredAt: new Date(signedAt + claim.expiresSeconds * 1000).toISOString(),
      serverTime: new Date(now).toISOString(),
    };
  }
  const window = SKEW_WINDOW_MS[policy.service];
  const tooOld = !claim.presigned && now - signedAt > window;
  if (tooOld || signedAt - now > window) {
    return {
      kind: "skewed",
      requestTime: claim.longDate,
      serverTime: longDateOf(now),
      serverTimeIso: new Date(now).toISOString(),
      boundary: longDateOf(tooOld ? now - window : now + window),
      windowMs: window,
      future: !tooOld,
    };
  }

  const stage = policy.stageCredentials;
  if (claim.accessKeyId !== stage.accessKeyId) {
    return policy.strict ? { kind: "unknown-key", accessKeyId: claim.accessKeyId } : undefined;
  }

  const payload = payloadHashOf(request, query, claim, policy.service, body);
  if ("problem" in payload) return payload.problem;
  const mark = url.indexOf("?");
  const signed: HttpRequest = {
    method: request.method ?? "GET",
    protocol: "http:",
    hostname: "",
    path: mark < 0 ? url : url.slice(0, mark),
    query,
    headers: canonicalHeaders(request.rawHeaders, claim.signedHeaders),
  };
  const expected = signerFor(policy.service, stage).expected(signed, claim, payload.hash);
  if (claim.service !== policy.service || !sameText(expected.signature, claim.signature)) {
    return {
      kind: "mismatch",
      accessKeyId: claim.accessKeyId,
      signatureProvided: claim.signature,
      stringToSign: expected.stringToSign,
      canonicalRequest: expected.canonicalRequest,
    };
  }
  return undefined;
}

/**
 * Checks a request's SigV4 signature before a listener serves it. `body` is the request's body as
 * received (aws-chunked still framed): the payload hash a signature covers is checked against it.
 * Undefined means serve the request; otherwise answer with the rejection and nothing else:
 *
 *   const body = await readBody(request, limit);
 *   const rejected = await checkSignature(request, body, { ...signatures, service: "lambda" });
 *   if (rejected) return void response.writeHead(rejected.status, rejected.headers).end(rejected.body);
 *
 * `signatures` is the stage's SignatureSettings (startLocalStage builds one for all listeners).
 */
export async function checkSignature(
  request: IncomingMessage,
  body: Buffer,
  policy: SignaturePolicy,
): Promise<SignatureRejection | undefined> {
  const problem = findProblem(request, body, policy);
  if (problem === undefined) return undefined;
  return rejectionFor(policy.service, problem, {
    method: request.method ?? "GET",
    headerSigned: request.headers.authorization !== undefined,
    strict: policy.strict,
  });
}
