/**
 * An HTTP/1.1 response read from bytes that arrive in arbitrary pieces: what http1-connections.ts
 * reads each answer with, one response per request (it never pipelines).
 *
 * Strict where leniency has let responses be misread (request smuggling's lessons): lines end in
 * CRLF, header names are tokens with no space before the colon, Content-Length is digits only and
 * may not contradict itself or come with Transfer-Encoding. Anything else is malformed, and the
 * connection that carried it cannot be trusted to frame the next response.
 */

/** The response head may not exceed this, Node's default (--max-http-header-size). */
export const MAX_HEAD_BYTES = 16 * 1024;
/**
 * The largest body kept or drained. The services the functions call answer in bytes (an empty
 * success, a JSON error); a megabyte is a server gone wrong, not an answer.
 */
export const MAX_BODY_BYTES = 1024 * 1024;
/** A chunk-size line: hex digits and extensions nobody needs this many of. */
const MAX_CHUNK_LINE_BYTES = 1024;

/** The bytes are not an HTTP/1.x response, or exceed a limit. */
export class MalformedResponse extends Error {
  override readonly name = "MalformedResponse";
}

export interface Response {
  readonly status: number;
  /** Header names in lower case, each with its first value (a Map: cheaper to fill than an object). */
  readonly headers: ReadonlyMap<string, string>;
  /** The body; empty when the reader was told to discard the status's body. */
  readonly body: Buffer;
  /** Whether the connection may carry another request (keep-alive, framed body). */
  readonly reusable: boolean;
}

enum State {
  Head = 0,
  Length = 1,
  ChunkSize = 2,
  ChunkData = 3,
  ChunkEnd = 4,
  Trailers = 5,
  UntilClose = 6,
  Done = 7,
}

const CRLF = Buffer.from("\r\n", "latin1");
const CRLFCRLF = Buffer.from("\r\n\r\n", "latin1");
const EMPTY = Buffer.alloc(0);

const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9][0-9]{2})(?: [\t\x20-\x7e\x80-\xff]*)?$/;
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const DIGITS = /^[0-9]+$/;
const CHUNK_SIZE = /^([0-9A-Fa-f]{1,8})[\t ]*(?:;[\t\x20-\x7e\x80-\xff]*)?$/;

/** Reads one response after another (reset between them) from the bytes of one connection. */
export class ResponseReader {
  private state = State.Head;
  private noBody = false;
  private status = 0;
  private headers = new Map<string, string>();
  private keepAlive = true;
  private keepsBody = true;
  private remaining = 0;
  private parts: Buffer[] = [];
  private bodyLength = 0;
  private trailerBytes = 0;
  /** Bytes of an unfinished line (head, chunk size, trailer) held until the rest arrives. */
  private carry: Buffer | undefined;
  private carryLength = 0;
  /** Where the search for the line's end resumes in the held bytes (it was not found before). */
  private scanFrom = 0;

  constructor(
    /** Whether a status's body is read and dropped rather than kept. */
    private readonly discardsBodyOf: (status: number) => boolean,
    private readonly maxBodyBytes: number = MAX_BODY_BYTES,
  ) {}

  /** Starts on the next response; `noBody` when it answers a HEAD request. */
  reset(noBody = false): void {
    this.state = State.Head;
    this.noBody = noBody;
    this.status = 0;
    this.headers = new Map();
    this.keepAlive = true;
    this.keepsBody = true;
    this.parts = [];
    this.bodyLength = 0;
    this.trailerBytes = 0;
    this.carry = undefined;
    this.carryLength = 0;
    this.scanFrom = 0;
  }

  /** Whether any byte of the current response has arrived. */
  get started(): boolean {
    return this.state !== State.Head || this.carryLength > 0;
  }

  /**
   * Reads the next bytes; returns the response once it is complete, undefined while more must
   * come. Bytes past the end of the response make it not reusable: nothing was asked for them.
   * Throws MalformedResponse.
   */
  push(chunk: Buffer): Response | undefined {
    if (this.state === State.Done) {
      throw new MalformedResponse("bytes arrived after the response was complete");
    }
    let bytes = chunk;
    const held = this.carryLength > 0;
    if (held) {
      this.hold(chunk);
      bytes = (this.carry as Buffer).subarray(0, this.carryLength);
    }
    const at = this.read(bytes);
    if (at < 0) {
      // An unfinished line: the held bytes already are exactly `bytes` when nothing was consumed.
      const from = -at - 1;
      if (!(held && from === 0)) {
        this.carry = undefined;
        this.carryLength = 0;
        this.hold(bytes.subarray(from));
      }
      return undefined;
    }
    if (held) {
      // Body parts may point into the held bytes: they are never written to again.
      this.carry = undefined;
      this.carryLength = 0;
    }
    // read() moved the state on.
    if ((this.state as State) !== State.Done) return undefined;
    return this.response(at < bytes.length ? false : this.keepAlive);
  }

  /** The server closed the connection: completes a body read until close; throws otherwise. */
  finish(): Response {
    if (this.state === State.UntilClose) {
      this.state = State.Done;
      return this.response(false);
    }
    if (!this.started)
      throw new MalformedResponse("the server closed the connection before answering");
    throw new MalformedResponse("the server closed the connection in the middle of its response");
  }

  private response(reusable: boolean): Response {
    const body =
      this.parts.length === 0
        ? EMPTY
        : this.parts.length === 1
          ? (this.parts[0] as Buffer)
          : Buffer.concat(this.parts, this.bodyLength);
    return { status: this.status, headers: this.headers, body, reusable };
  }

  private hold(bytes: Buffer): void {
    const needed = this.carryLength + bytes.length;
    if (this.carry === undefined || needed > this.carry.length) {
      const grown = Buffer.allocUnsafe(Math.max(256, needed * 2));
      if (this.carry !== undefined) this.carry.copy(grown, 0, 0, this.carryLength);
      this.carry = grown;
    }
    bytes.copy(this.carry, this.carryLength);
    this.carryLength = needed;
  }

  /**
   * Reads from `bytes` as far as it can: returns where the response ended (or bytes.length when
   * it needs more body), or -(from + 1) when a line starting at `from` is not complete yet.
   */
  private read(bytes: Buffer): number {
    let at = 0;
    for (;;) {
      switch (this.state) {
        case State.Head: {
          const end = bytes.indexOf(CRLFCRLF, Math.max(at, this.scanFrom));
          if (end < 0) {
            if (bytes.length - at > MAX_HEAD_BYTES) {
              throw new MalformedResponse(`the response head exceeds ${MAX_HEAD_BYTES} bytes`);
            }
            this.scanFrom = Math.max(0, bytes.length - at - 3);
            return -(at + 1);
          }
          if (end + 4 - at > MAX_HEAD_BYTES) {
            throw new MalformedResponse(`the response head exceeds ${MAX_HEAD_BYTES} bytes`);
          }
          this.scanFrom = 0;
          this.head(bytes.toString("latin1", at, end));
          at = end + 4;
          break;
        }
        case State.Length:
        case State.ChunkData: {
          const take = Math.min(this.remaining, bytes.length - at);
          this.body(bytes, at, at + take);
          at += take;
          this.remaining -= take;
          if (this.remaining > 0) return at;
          this.state = this.state === State.Length ? State.Done : State.ChunkEnd;
          break;
        }
        case State.ChunkSize: {
          const end = this.lineEnd(bytes, at, MAX_CHUNK_LINE_BYTES, "chunk-size line");
          if (end < 0) return -(at + 1);
          const match = CHUNK_SIZE.exec(bytes.toString("latin1", at, end));
          if (match === null) throw new MalformedResponse("a chunk-size line is malformed");
          const size = Number.parseInt(match[1] as string, 16);
          at = end + 2;
          if (size === 0) {
            this.state = State.Trailers;
          } else {
            if (this.bodyLength + size > this.maxBodyBytes) this.tooLarge();
            this.remaining = size;
            this.state = State.ChunkData;
          }
          break;
        }
        case State.ChunkEnd: {
          if (bytes.length - at < 2) return -(at + 1);
          if (bytes[at] !== 13 || bytes[at + 1] !== 10) {
            throw new MalformedResponse("a chunk's data is not followed by CRLF");
          }
          at += 2;
          this.state = State.ChunkSize;
          break;
        }
        case State.Trailers: {
          const end = this.lineEnd(
            bytes,
            at,
            MAX_HEAD_BYTES - this.trailerBytes,
            "trailer section",
          );
          if (end < 0) return -(at + 1);
          this.trailerBytes += end + 2 - at;
          const empty = end === at;
          // Trailers are read for framing only: nothing in them is needed.
          if (!empty && !this.headerLine(bytes.toString("latin1", at, end))) {
            throw new MalformedResponse("a trailer line is malformed");
          }
          at = end + 2;
          if (empty) this.state = State.Done;
          break;
        }
        case State.UntilClose: {
          this.body(bytes, at, bytes.length);
          return bytes.length;
        }
        case State.Done:
          return at;
      }
    }
  }

  /** The end of the line starting at `at` (its CR), or -1 while it is incomplete. */
  private lineEnd(bytes: Buffer, at: number, limit: number, what: string): number {
    const end = bytes.indexOf(CRLF, Math.max(at, this.scanFrom));
    if (end < 0) {
      if (bytes.length - at > limit)
        throw new MalformedResponse(`a ${what} exceeds ${limit} bytes`);
      this.scanFrom = Math.max(0, bytes.length - at - 1);
      return -1;
    }
    if (end - at > limit) throw new MalformedResponse(`a ${what} exceeds ${limit} bytes`);
    this.scanFrom = 0;
    return end;
  }

  private body(bytes: Buffer, from: number, to: number): void {
    if (to === from) return;
    this.bodyLength += to - from;
    if (this.bodyLength > this.maxBodyBytes) this.tooLarge();
    if (this.keepsBody) this.parts.push(bytes.subarray(from, to));
  }

  private tooLarge(): never {
    throw new MalformedResponse(`the response body exceeds ${this.maxBodyBytes} bytes`);
  }

  /** True when `line` is a well-formed header field. */
  private headerLine(line: string): boolean {
    const colon = line.indexOf(":");
    return (
      colon > 0 &&
      HEADER_NAME.test(line.slice(0, colon)) &&
      HEADER_VALUE.test(line.slice(colon + 1))
    );
  }

  private head(text: string): void {
    const lines = text.split("\r\n");
    const match = STATUS_LINE.exec(lines[0] as string);
    if (match === null) {
      throw new MalformedResponse(
        `the status line is malformed: ${JSON.stringify((lines[0] as string).slice(0, 80))}`,
      );
    }
    const status = Number(match[2]);
    if (status < 200) {
      // 100 Continue and other interim answers precede the real one; a protocol switch was never asked for.
      if (status === 101) throw new MalformedResponse("the server switched protocols unasked");
      for (let i = 1; i < lines.length; i += 1) {
        if (!this.headerLine(lines[i] as string))
          throw new MalformedResponse("a header line is malformed");
      }
      return;
    }
    const http10 = match[1] === "0";
    const headers = new Map<string, string>();
    let length: string | undefined;
    let transferEncoding: string | undefined;
    let close = false;
    let keepAlive = false;
    for (let i = 1; i < lines.length; i += 1) {
      const line = lines[i] as string;
      const colon = line.indexOf(":");
      const name = colon > 0 ? line.slice(0, colon) : "";
      const raw = line.slice(colon + 1);
      if (!HEADER_NAME.test(name) || !HEADER_VALUE.test(raw)) {
        throw new MalformedResponse(
          `a header line is malformed: ${JSON.stringify(line.slice(0, 80))}`,
        );
      }
      const value = raw.trim();
      const lower = name.toLowerCase();
      if (!headers.has(lower)) headers.set(lower, value);
      if (lower === "content-length") {
        if (!DIGITS.test(value) || (length !== undefined && length !== value)) {
          throw new MalformedResponse(`the content-length is malformed: ${JSON.stringify(value)}`);
        }
        length = value;
      } else if (lower === "transfer-encoding") {
        transferEncoding = transferEncoding === undefined ? value : `${transferEncoding},${value}`;
      } else if (lower === "connection") {
        for (const token of value.toLowerCase().split(",")) {
          const option = token.trim();
          if (option === "close") close = true;
          else if (option === "keep-alive") keepAlive = true;
        }
      }
    }
    this.status = status;
    this.headers = headers;
    this.keepAlive = !close && (!http10 || keepAlive);
    this.keepsBody = !this.discardsBodyOf(status);
    if (this.noBody || status === 204 || status === 304) {
      this.state = State.Done;
    } else if (transferEncoding !== undefined) {
      if (length !== undefined) {
        throw new MalformedResponse("the response has both content-length and transfer-encoding");
      }
      const codings = transferEncoding.toLowerCase().split(",");
      if (codings[codings.length - 1]?.trim() === "chunked") {
        this.state = State.ChunkSize;
      } else {
        // A body not framed by chunks lasts until the server closes (RFC 9112, 6.3).
        this.keepAlive = false;
        this.state = State.UntilClose;
      }
    } else if (length !== undefined) {
      const size = Number(length);
      if (size > this.maxBodyBytes) this.tooLarge();
      this.remaining = size;
      this.state = size === 0 ? State.Done : State.Length;
    } else {
      this.keepAlive = false;
      this.state = State.UntilClose;
    }
  }
}
