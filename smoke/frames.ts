/** The shapes of frames the stage sends to clients (see functions' protocol). */

function parse(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return undefined;
  }
}

/** `{"error":{"code":"…","message":"…"}}` */
export function isErrorFrame(data: string): boolean {
  const error = (parse(data) as { error?: { code?: unknown; message?: unknown } } | undefined)
    ?.error;
  return typeof error?.code === "string" && typeof error.message === "string";
}

/** `{"message":X}` and nothing else. */
export function isMessageFrame(data: string, message: unknown): boolean {
  const frame = parse(data);
  if (typeof frame !== "object" || frame === null) return false;
  const keys = Object.keys(frame);
  return (
    keys.length === 1 &&
    keys[0] === "message" &&
    JSON.stringify((frame as { message: unknown }).message) === JSON.stringify(message)
  );
}
