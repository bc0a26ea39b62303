import type { IncomingHttpHeaders } from "node:http";

/**
 * SDK v3 (≥ 3.729) streams uploads with a checksum trailer in the `aws-chunked` content encoding,
 * and SigV4 streaming uploads (the AWS CLI) use it with chunk signatures. Both frame the payload as
 * `<hex size>[;chunk-signature=…]\r\n<bytes>\r\n` … `0[;…]\r\n<trailers>\r\n\r\n`.
 */
export function isAwsChunked(headers: IncomingHttpHeaders): boolean {
  const encoding = String(headers["content-encoding"] ?? "");
  const sha = String(headers["x-amz-content-sha256"] ?? "");
  return (
    encoding.split(",").some((part) => part.trim() === "aws-chunked") ||
    sha.startsWith("STREAMING-")
  );
}

/** The payload inside an aws-chunked body; throws when the framing is broken. */
export function decodeAwsChunked(body: Buffer): Buffer {
  const chunks: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = body.indexOf("\r\n", offset);
    if (lineEnd < 0) throw new Error("aws-chunked body ends inside a chunk header.");
    const header = body.subarray(offset, lineEnd).toString("latin1");
    const size = Number.parseInt(header.split(";")[0] ?? "", 16);
    if (!Number.isInteger(size) || size < 0) {
      throw new Error(`aws-chunked body has a malformed chunk header "${header}".`);
    }
    if (size === 0) return Buffer.concat(chunks);
    const start = lineEnd + 2;
    const end = start + size;
    if (end > body.length) throw new Error("aws-chunked body ends inside a chunk.");
    chunks.push(body.subarray(start, end));
    offset = end + 2;
  }
}
