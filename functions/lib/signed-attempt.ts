import type { SignatureV4 } from "@smithy/signature-v4";
import { Http1Connections } from "./http1-connections.js";

export { NetworkError } from "./http1-connections.js";

/**
 * One attempt of a signed POST to an AWS endpoint, sent without the SDK client over a keep-alive
 * pool (http1-connections.ts): what the fast poster (@connections), the shard invoker (Lambda
 * Invoke) and the topic publisher (SNS Publish) share.
 *
 * Timeouts come in two phases. Until the request is written in full, the service cannot have acted
 * on it, so a stall there ends the attempt after the send timeout and a retry is safe. Once it is
 * written, the service may already have acted (delivered the frame, queued the shard), so the
 * answer gets a far longer timeout, and the caller learns which of the two ended the attempt: a
 * retry after an answer timeout may do the work twice.
 */

/**
 * A request target's path and its query as the signer takes it: `name=value` pairs, decoded
 * (the signer encodes them again). Only the simple queries the senders use (`x-id=PutObject`).
 */
function splitQuery(target: string): [string, Record<string, string>] {
  const mark = target.indexOf("?");
  if (mark < 0) return [target, {}];
  const query: Record<string, string> = {};
  for (const pair of target.slice(mark + 1).split("&")) {
    const equals = pair.indexOf("=");
    const name = decodeURIComponent(equals < 0 ? pair : pair.slice(0, equals));
    query[name] = equals < 0 ? "" : decodeURIComponent(pair.slice(equals + 1));
  }
  return [target.slice(0, mark), query];
}

/** What the service answered. */
export interface Answer {
  readonly status: number;
  /** `x-amzn-errortype` as sent (its first value), suffix included; undefined when absent. */
  readonly errorTypeHeader: string | undefined;
  /** The body as UTF-8; empty when the status is one whose body the caller discards. */
  readonly body: string;
}

/** A request's signed part: everything but the body. */
export interface SignedRequest {
  /** POST unless the request was signed for another method. */
  readonly method?: string;
  /** Path and query as sent (already encoded). */
  readonly path: string;
  readonly headers: Record<string, string>;
}

export interface SignedAttemptsOptions {
  /** Connections the pool keeps open at most. */
  readonly maxSockets: number;
  /** The SDK's signer, with the service, region and credentials of the endpoint. */
  readonly signer: SignatureV4;
  /** Answers with this status are drained unread (successes whose body says nothing). */
  readonly discardsBodyOf: (status: number) => boolean;
}

/** Signed POSTs to one endpoint: one pool per instance, reused across a warm function's invocations. */
export class SignedAttempts {
  private readonly connections: Http1Connections;
  private readonly port: number | undefined;
  private readonly signer: SignatureV4;
  private readonly discardsBodyOf: (status: number) => boolean;

  constructor(
    private readonly url: URL,
    options: SignedAttemptsOptions,
  ) {
    this.connections = new Http1Connections(url, {
      maxSockets: options.maxSockets,
      discardsBodyOf: options.discardsBodyOf,
    });
    this.port = url.port === "" ? undefined : Number(url.port);
    this.signer = options.signer;
    this.discardsBodyOf = options.discardsBodyOf;
  }

  /**
   * Signs a request as the SDK client does: by default a POST of `body` to `path`. `headers` come
   * first on the wire, after content-type and content-length and before host, in their own order.
   * A request without a body (`body` undefined: a DELETE) has neither content header.
   */
  async sign(
    path: string,
    headers: Readonly<Record<string, string>>,
    body: string | Buffer | undefined,
    signingDate?: Date,
    method = "POST",
  ): Promise<SignedRequest> {
    const content: Record<string, string> =
      body === undefined
        ? {}
        : {
            "content-type": "application/octet-stream",
            "content-length": String(
              typeof body === "string" ? Buffer.byteLength(body, "utf8") : body.length,
            ),
          };
    const [pathOnly, search] = splitQuery(path);
    const signed = await this.signer.sign(
      {
        method,
        protocol: this.url.protocol,
        hostname: this.url.hostname,
        ...(this.port === undefined ? {} : { port: this.port }),
        path: pathOnly,
        query: search,
        headers: { ...content, ...headers, host: this.url.host },
        ...(body === undefined ? {} : { body }),
      },
      signingDate === undefined ? undefined : { signingDate },
    );
    return { method, path, headers: signed.headers };
  }

  /**
   * Sends one signed request; rejects with NetworkError only, and resolves with any answer. The
   * timeouts are the send phase's and, once the request is written, the answer phase's.
   */
  async attempt(
    request: SignedRequest,
    body: string | Buffer | undefined,
    sendTimeoutMs: number,
    answerTimeoutMs: number,
  ): Promise<Answer> {
    // A string body goes out in one string with the head (no Buffer copy).
    const response = await this.connections.request(
      {
        method: request.method ?? "POST",
        path: request.path,
        headers: request.headers,
        body: body ?? "",
      },
      sendTimeoutMs,
      answerTimeoutMs,
    );
    const { status } = response;
    if (this.discardsBodyOf(status)) return { status, errorTypeHeader: undefined, body: "" };
    return {
      status,
      errorTypeHeader: response.headers.get("x-amzn-errortype"),
      body: response.body.toString("utf8"),
    };
  }

  /** Closes the pooled connections (tests and the bench; a Lambda just freezes). */
  close(): void {
    this.connections.close();
  }
}
