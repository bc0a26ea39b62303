import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { SignatureV4 } from "@smithy/signature-v4";

/**
 * One attempt of a signed POST to an AWS endpoint, sent without the SDK client over a keep-alive
 * pool: what the fast poster (@connections) and the shard invoker (Lambda Invoke) share.
 *
 * Timeouts come in two phases. Until the request is written in full, the service cannot have acted
 * on it, so a stall there ends the attempt after the send timeout and a retry is safe. Once it is
 * written, the service may already have acted (delivered the frame, queued the shard), so the
 * answer gets a far longer timeout, and the caller learns which of the two ended the attempt: a
 * retry after an answer timeout may do the work twice.
 */

/** The attempt got no HTTP answer: the connection failed, or one of its timeouts passed. */
export class NetworkError extends Error {
  override readonly name = "NetworkError";
  constructor(
    message: string,
    /** The timeout that ended the attempt; undefined when the connection failed. */
    readonly timeout?: "send" | "answer",
  ) {
    super(message);
  }
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
  private readonly send: typeof httpRequest;
  private readonly agent: HttpAgent;
  private readonly hostname: string;
  private readonly port: number | undefined;
  private readonly signer: SignatureV4;
  private readonly discardsBodyOf: (status: number) => boolean;

  constructor(
    private readonly url: URL,
    options: SignedAttemptsOptions,
  ) {
    const secure = url.protocol === "https:";
    this.send = secure ? httpsRequest : httpRequest;
    this.agent = secure
      ? new HttpsAgent({ keepAlive: true, maxSockets: options.maxSockets })
      : new HttpAgent({ keepAlive: true, maxSockets: options.maxSockets });
    this.hostname = url.hostname;
    this.port = url.port === "" ? undefined : Number(url.port);
    this.signer = options.signer;
    this.discardsBodyOf = options.discardsBodyOf;
  }

  /**
   * Signs a POST of `body` to `path` as the SDK client does. `headers` come first on the wire,
   * after content-type and content-length and before host, in their own order.
   */
  async sign(
    path: string,
    headers: Readonly<Record<string, string>>,
    body: string | Buffer,
    signingDate?: Date,
  ): Promise<SignedRequest> {
    const signed = await this.signer.sign(
      {
        method: "POST",
        protocol: this.url.protocol,
        hostname: this.url.hostname,
        ...(this.port === undefined ? {} : { port: this.port }),
        path,
        query: {},
        headers: {
          "content-type": "application/octet-stream",
          "content-length": String(
            typeof body === "string" ? Buffer.byteLength(body, "utf8") : body.length,
          ),
          ...headers,
          host: this.url.host,
        },
        body,
      },
      signingDate === undefined ? undefined : { signingDate },
    );
    return { path, headers: signed.headers };
  }

  /**
   * Sends one signed request; rejects with NetworkError only, and resolves with any answer. The
   * timeouts are the send phase's and, once the request is written, the answer phase's.
   */
  attempt(
    request: SignedRequest,
    body: string | Buffer,
    sendTimeoutMs: number,
    answerTimeoutMs: number,
  ): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      const outgoing = this.send(
        {
          method: "POST",
          host: this.hostname,
          port: this.port,
          path: request.path,
          headers: request.headers,
          agent: this.agent,
          timeout: sendTimeoutMs,
        },
        (response: IncomingMessage) => {
          const status = response.statusCode ?? 0;
          if (this.discardsBodyOf(status)) {
            response.resume();
            response.once("end", () => resolve({ status, errorTypeHeader: undefined, body: "" }));
            response.on("error", (error) => reject(new NetworkError(error.message)));
            return;
          }
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("error", (error) => reject(new NetworkError(error.message)));
          response.on("end", () => {
            const header = response.headers["x-amzn-errortype"];
            resolve({
              status,
              errorTypeHeader: Array.isArray(header) ? header[0] : header,
              body: Buffer.concat(chunks).toString("utf8"),
            });
          });
        },
      );
      let written = false;
      outgoing.once("finish", () => {
        written = true;
        outgoing.setTimeout(answerTimeoutMs);
      });
      outgoing.on("timeout", () =>
        outgoing.destroy(
          written
            ? new NetworkError(`no answer within ${answerTimeoutMs} ms of the request`, "answer")
            : new NetworkError(`the request could not be sent within ${sendTimeoutMs} ms`, "send"),
        ),
      );
      outgoing.on("error", (error: Error) =>
        reject(error instanceof NetworkError ? error : new NetworkError(error.message)),
      );
      // A string body goes out with the headers in one write (a Buffer would take a writev).
      outgoing.end(body, "utf8");
    });
  }

  /** Closes the pooled connections (tests and the bench; a Lambda just freezes). */
  close(): void {
    this.agent.destroy();
  }
}
