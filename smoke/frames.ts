import { type ErrorCode, echoFrame, messageFrame } from "../functions/lib/protocol.js";

/** Recognising the frames the stage sends to clients (their format is the functions' protocol). */

/** `{"error":{"code":"…","message":"…"}}`: its code, or undefined for any other frame. */
export function errorFrameCode(data: string): ErrorCode | undefined {
  let frame: unknown;
  try {
    frame = JSON.parse(data);
  } catch {
    return undefined;
  }
  const error = (frame as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  return typeof error?.code === "string" && typeof error.message === "string"
    ? (error.code as ErrorCode)
    : undefined;
}

export function isErrorFrame(data: string): boolean {
  return errorFrameCode(data) !== undefined;
}

/**
 * Exactly the frame every connection receives for a broadcast of `message` (and the sender for an
 * echo), when the sender wrote `message` as JSON.stringify does.
 */
export function isBroadcastOf(data: string, message: unknown): boolean {
  return data === messageFrame(JSON.stringify(message));
}

/** The connection id in an echo reply to `message` (written as JSON.stringify does), or undefined. */
export function echoReplyOf(data: string, message: unknown): string | undefined {
  let frame: unknown;
  try {
    frame = JSON.parse(data);
  } catch {
    return undefined;
  }
  const connectionId = (frame as { connectionId?: unknown } | null)?.connectionId;
  if (typeof connectionId !== "string") return undefined;
  return data === echoFrame(JSON.stringify(message), connectionId) ? connectionId : undefined;
}
