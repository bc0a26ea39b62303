import type { IncomingMessage } from "node:http";

/**
 * Checks an upgrade request as a WebSocket handshake (RFC 6455 §4.2.1) before anything runs:
 * API Gateway answers a malformed handshake itself and never invokes $connect for it. The checks
 * are those `ws` makes when it completes the handshake, so nothing it would refuse gets that far
 * (a refusal after $connect would leave the registry entry $connect wrote, with no $disconnect).
 */

export interface HandshakeRefusal {
  readonly status: 400 | 405;
  readonly message: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** 16 random bytes, base64: what a client must send as Sec-WebSocket-Key. */
const KEY = /^[+/0-9A-Za-z]{22}==$/;
/** An HTTP token (RFC 7230 §3.2.6), the syntax of each offered subprotocol. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function validSubprotocols(header: string): boolean {
  const offered = header.split(",").map((protocol) => protocol.trim());
  return (
    offered.every((protocol) => TOKEN.test(protocol)) && new Set(offered).size === offered.length
  );
}

/** Why the request is not an acceptable WebSocket handshake, or undefined when it is one. */
export function handshakeRefusal(request: IncomingMessage): HandshakeRefusal | undefined {
  if (request.method !== "GET") return { status: 405, message: "Invalid HTTP method" };
  if (request.headers.upgrade?.toLowerCase() !== "websocket") {
    return { status: 400, message: "Invalid Upgrade header" };
  }
  const key = request.headers["sec-websocket-key"];
  if (key === undefined || !KEY.test(key)) {
    return { status: 400, message: "Missing or invalid Sec-WebSocket-Key header" };
  }
  const version = request.headers["sec-websocket-version"];
  if (version !== "13" && version !== "8") {
    return {
      status: 400,
      message: "Missing or invalid Sec-WebSocket-Version header",
      headers: { "Sec-WebSocket-Version": "13, 8" },
    };
  }
  const protocols = request.headers["sec-websocket-protocol"];
  if (protocols !== undefined && !validSubprotocols(protocols)) {
    return { status: 400, message: "Invalid Sec-WebSocket-Protocol header" };
  }
  return undefined;
}
