import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  MAX_HEAD_BYTES,
  MalformedResponse,
  type Response,
  ResponseReader,
} from "./http1-response.js";

/** Feeds `pieces` one by one; returns the response and how many pushes returned one. */
function readAll(reader: ResponseReader, pieces: readonly Buffer[]): Response | undefined {
  let response: Response | undefined;
  for (const piece of pieces) {
    const got = reader.push(piece);
    if (got !== undefined) {
      expect(response).toBeUndefined();
      response = got;
    }
  }
  return response;
}

/** `bytes` cut at the given offsets (sorted, deduplicated, inside the buffer). */
function split(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const point of points) {
    if (point > from) pieces.push(bytes.subarray(from, point));
    from = Math.max(from, point);
  }
  if (from < bytes.length) pieces.push(bytes.subarray(from));
  return pieces;
}

const keepAll = () => false;
const reader = () => new ResponseReader(keepAll);
const bytes = (text: string) => Buffer.from(text, "latin1");

function malformed(text: string | Buffer): string {
  const r = reader();
  try {
    r.push(typeof text === "string" ? bytes(text) : text);
  } catch (error) {
    if (error instanceof MalformedResponse) return error.message;
    throw error;
  }
  throw new Error("expected the response to be malformed");
}

const token = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/);
const value = fc.stringMatching(/^[!-~]([ -~]{0,30}[!-~])?$/);

describe("ResponseReader", () => {
  it("reads any valid response cut anywhere: the status, the first x-amzn-errortype and the body", () => {
    fc.assert(
      fc.property(
        fc.record({
          status: fc.integer({ min: 200, max: 599 }).filter((s) => s !== 204 && s !== 304),
          reason: fc.constantFrom("", " ", " OK", " Some Reason"),
          headers: fc.array(fc.tuple(token, value), { maxLength: 6 }),
          errorTypes: fc.array(value, { maxLength: 2 }),
          body: fc.uint8Array({ maxLength: 300 }),
          chunked: fc.option(
            fc.record({
              sizes: fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 8 }),
              extension: fc.constantFrom("", ";a=b", ' ; name="quoted"'),
              trailers: fc.array(fc.tuple(token, value), { maxLength: 2 }),
            }),
          ),
          interim: fc.boolean(),
          cuts: fc.array(fc.nat(), { maxLength: 12 }),
        }),
        ({ status, reason, headers, errorTypes, body, chunked, interim, cuts }) => {
          const framing = new Set([
            "content-length",
            "transfer-encoding",
            "connection",
            "x-amzn-errortype",
          ]);
          const lines = [`HTTP/1.1 ${status}${reason}`];
          for (const [name, v] of headers)
            if (!framing.has(name.toLowerCase())) lines.push(`${name}: ${v}`);
          for (const [i, v] of errorTypes.entries()) {
            lines.push(
              `${i % 2 === 0 ? "X-Amzn-ErrorType" : "x-amzn-errortype"}:${" ".repeat(i)}${v}`,
            );
          }
          const payload = Buffer.from(body);
          const parts: Buffer[] = [];
          if (interim) parts.push(bytes("HTTP/1.1 100 Continue\r\n\r\n"));
          if (chunked === null) {
            lines.push(`Content-Length: ${payload.length}`);
            parts.push(bytes(`${lines.join("\r\n")}\r\n\r\n`), payload);
          } else {
            lines.push("Transfer-Encoding: chunked");
            parts.push(bytes(`${lines.join("\r\n")}\r\n\r\n`));
            let at = 0;
            let i = 0;
            while (at < payload.length) {
              const size = Math.min(
                chunked.sizes[i % Math.max(1, chunked.sizes.length)] ?? 7,
                payload.length - at,
              );
              parts.push(
                bytes(`${size.toString(16)}${chunked.extension}\r\n`),
                payload.subarray(at, at + size),
                bytes("\r\n"),
              );
              at += size;
              i += 1;
            }
            const trailers = chunked.trailers.map(([n, v]) => `${n}: ${v}\r\n`).join("");
            parts.push(bytes(`0${chunked.extension}\r\n${trailers}\r\n`));
          }
          const wire = Buffer.concat(parts);

          const response = readAll(reader(), split(wire, cuts));

          expect(response?.status).toBe(status);
          expect(response?.headers.get("x-amzn-errortype")).toBe(errorTypes[0]);
          expect(response?.body.equals(payload)).toBe(true);
          expect(response?.reusable).toBe(true);
        },
      ),
      { numRuns: 400 },
    );
  });

  it("reads a response delivered one byte at a time", () => {
    const wire = bytes(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    );
    const response = readAll(reader(), split(wire, [...wire.keys()]));
    expect(response?.body.toString()).toBe("hello");
  });

  it("drops the body of a status it discards, and still frames it", () => {
    const r = new ResponseReader((status) => status === 200);
    const response = r.push(bytes("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"));
    expect(response).toMatchObject({ status: 200, reusable: true });
    expect(response?.body.length).toBe(0);
  });

  it("reads no body after 204, 304 or a HEAD request, even with a content-length", () => {
    for (const status of [204, 304]) {
      expect(
        reader().push(bytes(`HTTP/1.1 ${status} X\r\nContent-Length: 9\r\n\r\n`))?.status,
      ).toBe(status);
    }
    const head = reader();
    head.reset(true);
    expect(head.push(bytes("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"))?.body.length).toBe(0);
  });

  it("reads a body without length until the server closes, and does not reuse the connection", () => {
    const r = reader();
    expect(r.push(bytes("HTTP/1.1 200 OK\r\n\r\nsome"))).toBeUndefined();
    expect(r.push(bytes(" more"))).toBeUndefined();
    const response = r.finish();
    expect(response.body.toString()).toBe("some more");
    expect(response.reusable).toBe(false);
  });

  it("does not reuse a connection the server closes or an HTTP/1.0 one without keep-alive", () => {
    const close = reader().push(
      bytes("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"),
    );
    const old = reader().push(bytes("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"));
    const oldKept = reader().push(
      bytes("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n"),
    );
    expect([close?.reusable, old?.reusable, oldKept?.reusable]).toEqual([false, false, true]);
  });

  it("does not reuse a connection that sent bytes past the response", () => {
    const response = reader().push(bytes("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxy"));
    expect(response?.reusable).toBe(false);
  });

  it("rejects what is not an HTTP/1.x response", () => {
    expect(malformed("HTTP/2 200 OK\r\n\r\n")).toMatch(/status line is malformed/);
    expect(malformed("SSH-2.0-OpenSSH\r\n\r\n")).toMatch(/status line is malformed/);
    expect(malformed("HTTP/1.1 20 OK\r\n\r\n")).toMatch(/status line is malformed/);
    expect(malformed("HTTP/1.1 200 OK\r\nbad header\r\n\r\n")).toMatch(/header line is malformed/);
    expect(malformed("HTTP/1.1 200 OK\r\nName : v\r\n\r\n")).toMatch(/header line is malformed/);
    expect(malformed("HTTP/1.1 200 OK\r\n folded\r\n\r\n")).toMatch(/header line is malformed/);
    expect(malformed("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n")).toMatch(/content-length/);
    expect(malformed("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")).toMatch(
      /content-length/,
    );
    expect(
      malformed("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"),
    ).toMatch(/both content-length and transfer-encoding/);
    expect(malformed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")).toMatch(
      /chunk-size/,
    );
    expect(malformed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n")).toMatch(
      /CRLF/,
    );
    expect(malformed("HTTP/1.1 101 Switching Protocols\r\n\r\n")).toMatch(/switched protocols/);
  });

  it("rejects a head over the limit, whole or in pieces, and a body over the cap", () => {
    const big = `HTTP/1.1 200 OK\r\nx: ${"a".repeat(MAX_HEAD_BYTES)}\r\n\r\n`;
    expect(malformed(big)).toMatch(/exceeds 16384 bytes/);
    const r = reader();
    expect(() => {
      for (const piece of split(
        bytes(big),
        Array.from({ length: 40 }, (_, i) => i * 500),
      ))
        r.push(piece);
    }).toThrow(/exceeds 16384 bytes/);
    const small = new ResponseReader(keepAll, 10);
    expect(() => small.push(bytes("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n"))).toThrow(
      /exceeds 10 bytes/,
    );
    const chunks = new ResponseReader(keepAll, 10);
    expect(() =>
      chunks.push(
        bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n123456\r\n6\r\n"),
      ),
    ).toThrow(/exceeds 10 bytes/);
  });

  it("tells a close before any answer from a close in the middle of one", () => {
    expect(() => reader().finish()).toThrow(/closed the connection before answering/);
    const r = reader();
    r.push(bytes("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel"));
    expect(() => r.finish()).toThrow(/in the middle of its response/);
  });
});
