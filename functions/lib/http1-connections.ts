import { isIP, type Socket, connect as tcpConnect } from "node:net";
import { type ConnectionOptions, connect as tlsConnect } from "node:tls";
import { MalformedResponse, type Response, ResponseReader } from "./http1-response.js";

/**
 * An HTTP/1.1 client for one origin: a keep-alive pool of at most `maxSockets` connections, one
 * request in flight on each (no pipelining), the others queued first come, first served.
 *
 * Why not Node's http.request and Agent: fan-out posts thousands of small requests per invocation,
 * and their client machinery (ClientRequest, IncomingMessage, the Agent's events, the streams
 * under both) cost about 80 µs of CPU per post on the lead's machine, against 20 µs for writing
 * the request's bytes on a pooled socket and reading the answer here. undici does the same, but
 * its package unpacks to 2.2 MB (undici 8.13.1, `npm pack --dry-run`), and the fan-out bundle
 * sits a few hundred bytes under its 500 KB budget.
 *
 * Timeouts are the socket's inactivity timeouts, in two phases, as http.request's `timeout` and a
 * second setTimeout once the request 'finish'ed were: the send timeout runs from the moment a
 * connection is handed the request until its bytes are written (handed to the kernel), the answer
 * timeout from then until the response is complete. A request waiting for a connection runs
 * neither, as with the Agent.
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

export interface Request {
  readonly method: string;
  /** The request target: path and query, already encoded. */
  readonly path: string;
  /** Sent in this order; host, connection: keep-alive and content-length are added when absent. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | Buffer;
}

export type { Response } from "./http1-response.js";

export interface Http1ConnectionsOptions {
  /** Connections open at most; requests beyond them wait for one to be free. */
  readonly maxSockets: number;
  /** Answers with this status are read and dropped (successes whose body says nothing). */
  readonly discardsBodyOf?: (status: number) => boolean;
  /** For https: what to trust besides the system's roots (tests' self-signed certificates). */
  readonly ca?: ConnectionOptions["ca"];
}

/**
 * TCP keep-alive probes on pooled sockets, as http.Agent sets them (its keepAliveMsecs default):
 * a peer that vanished without a FIN is noticed while the socket idles.
 */
const KEEP_ALIVE_PROBE_MS = 1_000;

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Visible ASCII, space and tab only: the head is then the same bytes in UTF-8 as in Latin-1. */
const HEADER_VALUE = /^[\t\x20-\x7e]*$/;
const REQUEST_TARGET = /^[\x21-\x7e]+$/;

/** One request on its way: what the pool queues and a connection carries. */
class Exchange {
  written = false;
  settled = false;
  constructor(
    readonly bytes: string | Buffer,
    readonly noBody: boolean,
    readonly sendTimeoutMs: number,
    readonly answerTimeoutMs: number,
    readonly resolve: (response: Response) => void,
    readonly reject: (error: Error) => void,
  ) {}

  fail(error: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.reject(error);
  }

  succeed(response: Response): void {
    if (this.settled) return;
    this.settled = true;
    this.resolve(response);
  }
}

/** One socket of the pool, with the listeners it keeps for life (cheaper than adding them per request). */
class Connection {
  readonly socket: Socket;
  private readonly reader: ResponseReader;
  private exchange: Exchange | undefined;
  private gone = false;

  constructor(
    private readonly pool: Http1Connections,
    origin: URL,
    options: Http1ConnectionsOptions,
  ) {
    const port = origin.port === "" ? undefined : Number(origin.port);
    // URL keeps an IPv6 literal's brackets; the socket wants the address.
    const host = origin.hostname.replace(/^\[(.*)\]$/, "$1");
    const tcp = tcpConnect({
      host,
      port: port ?? (origin.protocol === "https:" ? 443 : 80),
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: KEEP_ALIVE_PROBE_MS,
    });
    this.socket =
      origin.protocol === "https:"
        ? tlsConnect({
            socket: tcp,
            host,
            // SNI names hosts, never addresses (RFC 6066); the certificate is checked either way.
            ...(isIP(host) === 0 ? { servername: host } : {}),
            ALPNProtocols: ["http/1.1"],
            ...(options.ca === undefined ? {} : { ca: options.ca }),
          })
        : tcp;
    this.reader = new ResponseReader(options.discardsBodyOf ?? (() => false));
    this.socket.on("data", (chunk: Buffer) => this.onData(chunk));
    this.socket.on("end", () => this.onEnd());
    this.socket.on("error", (error: Error) => this.onError(error));
    this.socket.on("close", () => this.onClose());
    this.socket.on("timeout", () => this.onTimeout());
  }

  /** Sends the exchange's request: head and body in one write. */
  start(exchange: Exchange): void {
    this.exchange = exchange;
    this.reader.reset(exchange.noBody);
    this.socket.setTimeout(exchange.sendTimeoutMs);
    const written = (error?: Error | null) => {
      if (error) return; // The socket's 'error' tells.
      exchange.written = true;
      if (this.exchange === exchange) this.socket.setTimeout(exchange.answerTimeoutMs);
    };
    if (typeof exchange.bytes === "string") this.socket.write(exchange.bytes, "utf8", written);
    else this.socket.write(exchange.bytes, written);
  }

  destroy(): void {
    this.gone = true;
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    const exchange = this.exchange;
    if (exchange === undefined) {
      // Nothing was asked: whatever this is, the connection no longer frames answers.
      this.drop();
      return;
    }
    let response: Response | undefined;
    try {
      response = this.reader.push(chunk);
    } catch (error) {
      this.failExchange(
        new NetworkError(`the server's answer is malformed: ${(error as Error).message}`),
      );
      return;
    }
    if (response === undefined) return;
    this.exchange = undefined;
    // An answer that came before the request was fully written leaves the rest of it unsent.
    if (response.reusable && exchange.written) {
      this.socket.setTimeout(0);
      this.pool.release(this);
    } else {
      this.drop();
    }
    exchange.succeed(response);
  }

  private onEnd(): void {
    const exchange = this.exchange;
    if (exchange !== undefined) {
      this.exchange = undefined;
      try {
        const response = this.reader.finish();
        exchange.succeed(response);
      } catch (error) {
        exchange.fail(
          new NetworkError(error instanceof MalformedResponse ? error.message : String(error)),
        );
      }
    }
    this.drop();
  }

  private onError(error: Error): void {
    this.failExchange(new NetworkError(error.message));
  }

  private onClose(): void {
    this.failExchange(new NetworkError("the connection closed before the server answered"));
    this.drop();
  }

  private onTimeout(): void {
    const exchange = this.exchange;
    if (exchange === undefined) return;
    this.failExchange(
      exchange.written
        ? new NetworkError(
            `no answer within ${exchange.answerTimeoutMs} ms of the request`,
            "answer",
          )
        : new NetworkError(
            `the request could not be sent within ${exchange.sendTimeoutMs} ms`,
            "send",
          ),
    );
  }

  private failExchange(error: NetworkError): void {
    const exchange = this.exchange;
    this.exchange = undefined;
    exchange?.fail(error);
    this.drop();
  }

  /** Out of the pool for good: destroyed, uncounted, its place offered to a waiting request. */
  private drop(): void {
    if (!this.gone) {
      this.gone = true;
      this.socket.destroy();
    }
    this.pool.forget(this);
  }
}

/** Methods whose requests carry no body unless they are given one. */
const BODILESS_METHODS: ReadonlySet<string> = new Set([
  "GET",
  "HEAD",
  "DELETE",
  "OPTIONS",
  "TRACE",
]);

/** Requests to one origin over a keep-alive pool; one instance per origin, reused while warm. */
export class Http1Connections {
  private readonly open = new Set<Connection>();
  /** Free connections, the most recently used last (it is the likeliest to be alive). */
  private readonly free: Connection[] = [];
  /** Requests waiting for a connection, oldest first from `next`. */
  private waiting: Exchange[] = [];
  private next = 0;
  private readonly host: string;

  constructor(
    private readonly origin: URL,
    private readonly options: Http1ConnectionsOptions,
  ) {
    if (origin.protocol !== "http:" && origin.protocol !== "https:") {
      throw new Error(
        `Cannot send HTTP requests to ${origin.href}: only http: and https: URLs are supported.`,
      );
    }
    if (!(options.maxSockets >= 1)) {
      throw new Error(`maxSockets must be at least 1, not ${options.maxSockets}.`);
    }
    this.host = origin.host;
  }

  /**
   * Sends one request and resolves with the complete response, whatever its status; rejects with
   * NetworkError when none came (TypeError when the request cannot be written as HTTP/1.1).
   */
  request(request: Request, sendTimeoutMs: number, answerTimeoutMs: number): Promise<Response> {
    return new Promise<Response>((resolve, reject) => {
      const bytes = this.serialize(request);
      const exchange = new Exchange(
        bytes,
        request.method === "HEAD",
        sendTimeoutMs,
        answerTimeoutMs,
        resolve,
        reject,
      );
      const connection = this.free.pop();
      if (connection !== undefined) {
        connection.socket.ref();
        connection.start(exchange);
      } else if (this.open.size < this.options.maxSockets) {
        this.connect().start(exchange);
      } else {
        this.waiting.push(exchange);
      }
    });
  }

  /** Connections open or opening (tests and the bench watch the pool with it). */
  get openConnections(): number {
    return this.open.size;
  }

  /** Closes every connection: requests on them or waiting for one fail with NetworkError. */
  close(): void {
    const waiting = this.waiting.slice(this.next);
    this.waiting = [];
    this.next = 0;
    for (const exchange of waiting)
      exchange.fail(new NetworkError("the connection pool was closed"));
    for (const connection of [...this.open]) connection.destroy();
    this.free.length = 0;
  }

  /** A connection finished its request and may carry another. */
  release(connection: Connection): void {
    const exchange = this.dequeue();
    if (exchange !== undefined) {
      connection.start(exchange);
      return;
    }
    // An idle pooled socket must not keep the process alive, as the Agent's free sockets don't.
    connection.socket.unref();
    this.free.push(connection);
  }

  /** A connection is gone: its place goes to the oldest waiting request. */
  forget(connection: Connection): void {
    if (!this.open.delete(connection)) return;
    const at = this.free.indexOf(connection);
    if (at >= 0) this.free.splice(at, 1);
    const exchange = this.dequeue();
    if (exchange !== undefined) this.connect().start(exchange);
  }

  private connect(): Connection {
    const connection = new Connection(this, this.origin, this.options);
    this.open.add(connection);
    return connection;
  }

  private dequeue(): Exchange | undefined {
    if (this.next >= this.waiting.length) return undefined;
    const exchange = this.waiting[this.next] as Exchange;
    this.next += 1;
    if (this.next === this.waiting.length) {
      this.waiting = [];
      this.next = 0;
    } else if (this.next > 1024 && this.next * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.next);
      this.next = 0;
    }
    return exchange;
  }

  /** The request's bytes: its head and, in the same string or buffer, its body. */
  private serialize(request: Request): string | Buffer {
    if (!REQUEST_TARGET.test(request.path) || !HEADER_NAME.test(request.method)) {
      throw new TypeError(
        `Cannot send ${JSON.stringify(request.method)} ${JSON.stringify(request.path)}: the method must be a token and the path encoded, without spaces or control characters.`,
      );
    }
    const { body } = request;
    let head = `${request.method} ${request.path} HTTP/1.1\r\n`;
    let host = false;
    let length = false;
    let connection = false;
    for (const name in request.headers) {
      const value = request.headers[name] as string;
      if (!HEADER_NAME.test(name) || !HEADER_VALUE.test(value)) {
        throw new TypeError(
          `Cannot send the header ${JSON.stringify(name)}: names are tokens and values printable ASCII.`,
        );
      }
      if (name.length === 4 && name.toLowerCase() === "host") host = true;
      else if (name.length === 14 && name.toLowerCase() === "content-length") length = true;
      else if (name.length === 10 && name.toLowerCase() === "connection") connection = true;
      head += `${name}: ${value}\r\n`;
    }
    if (!host) head += `host: ${this.host}\r\n`;
    // As Node's client sends it with a keep-alive Agent: the wire tests hold the SDK's request to it.
    if (!connection) head += "connection: keep-alive\r\n";
    if (!length) {
      const size = typeof body === "string" ? Buffer.byteLength(body, "utf8") : body.length;
      // As Node's client: a DELETE (or GET, HEAD) without a body says nothing of its length.
      if (size > 0 || !BODILESS_METHODS.has(request.method)) head += `content-length: ${size}\r\n`;
    }
    head += "\r\n";
    if (typeof body === "string") return head + body;
    return Buffer.concat([Buffer.from(head, "latin1"), body]);
  }
}
