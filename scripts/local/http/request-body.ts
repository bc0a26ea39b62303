import type { IncomingMessage } from "node:http";

/** The request declared or sent more bytes than the endpoint accepts. */
export class BodyTooLargeError extends Error {
  override readonly name = "BodyTooLargeError";
}

/**
 * Reads a whole request body, refusing more than `limit` bytes. Plain stream events rather than
 * `for await`: an async iterator per request was a visible share of every registry write.
 */
export function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(request.headers["content-length"] ?? 0);
  if (declared > limit) {
    return Promise.reject(
      new BodyTooLargeError(`Body of ${declared} bytes exceeds the limit of ${limit} bytes.`),
    );
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        // The rest is read and dropped, so the refusal can still be answered on this connection.
        request.resume();
        reject(new BodyTooLargeError(`Body exceeds the limit of ${limit} bytes.`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onClose = () => {
      if (request.complete) return;
      cleanup();
      reject(new Error("The request was aborted before its body ended."));
    };
    const cleanup = () => {
      request.off("data", onData);
      request.off("end", onEnd);
      request.off("error", onError);
      request.off("close", onClose);
    };
    request.on("data", onData);
    request.on("end", onEnd);
    request.on("error", onError);
    request.on("close", onClose);
  });
}
