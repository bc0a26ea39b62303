import { RecordingClient } from "./client.js";
import type { FuzzFrame } from "./frames.js";

/**
 * Sends each frame from one client while two others watch. Every frame must be answered: an error
 * frame to the sender alone, or a delivery that every client receives. Afterwards the watchers'
 * frames must be exactly the deliveries (as multisets: fan-outs of consecutive frames may cross),
 * checked after a final broadcast that must reach them (the positive control).
 */

export interface FuzzReport {
  readonly frames: number;
  readonly answeredWithError: number;
  readonly delivered: number;
  /** Frames the sender got no answer to. */
  readonly unanswered: number;
  readonly unansweredKinds: Readonly<Record<string, number>>;
  /** Frames a watcher received that no delivery explains (an error frame leaking, say). */
  readonly leaked: number;
  /** Deliveries a watcher never received. */
  readonly missed: number;
  /** Connections closed although every frame was within the size limits. */
  readonly closed: number;
  /** Text frames of invalid UTF-8 answered by closing with 1007, as RFC 6455 §8.1 requires. */
  readonly closedForInvalidUtf8: number;
  /** Broadcasts of raw JSON text delivered: how many came out exactly as sent. */
  readonly verbatimChecked: number;
  readonly verbatimMismatched: number;
  readonly verbatimExamples: readonly string[];
}

/** How long a frame may go unanswered: longer than any one invocation takes here. */
const ANSWER_MS = 10_000;

/** The close code for a text frame that is not UTF-8. */
const INVALID_PAYLOAD = 1007;

function isErrorFrame(frame: Buffer): boolean {
  try {
    const value = JSON.parse(frame.toString("utf8")) as { error?: { code?: unknown } };
    return (
      typeof value === "object" &&
      value !== null &&
      Object.keys(value).length === 1 &&
      typeof value.error?.code === "string"
    );
  } catch {
    return false;
  }
}

function countBy(values: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return counts;
}

export async function fuzzFrames(
  url: string,
  frames: readonly FuzzFrame[],
  onProgress: (done: number) => void,
): Promise<FuzzReport> {
  let sender = await RecordingClient.open(url);
  const watchers = [await RecordingClient.open(url), await RecordingClient.open(url)];
  const deliveries: string[] = [];
  const unansweredKinds: Record<string, number> = {};
  const verbatimExamples: string[] = [];
  let answeredWithError = 0;
  let unanswered = 0;
  let closed = 0;
  let closedForInvalidUtf8 = 0;
  let verbatimChecked = 0;
  let verbatimMismatched = 0;
  for (const [index, frame] of frames.entries()) {
    sender.send(frame.data, frame.binary);
    const reply = await sender.next(ANSWER_MS);
    if (reply === undefined) {
      if (sender.closeCode !== undefined) {
        if (sender.closeCode === INVALID_PAYLOAD && frame.kind === "invalid UTF-8") {
          closedForInvalidUtf8 += 1;
        } else closed += 1;
        sender = await RecordingClient.open(url);
      } else {
        unanswered += 1;
        unansweredKinds[frame.kind] = (unansweredKinds[frame.kind] ?? 0) + 1;
      }
    } else if (isErrorFrame(reply) && frame.sendsData !== reply.toString("utf8")) {
      answeredWithError += 1;
    } else {
      const text = reply.toString("utf8");
      deliveries.push(text);
      if (frame.verbatim !== undefined) {
        verbatimChecked += 1;
        if (text !== frame.verbatim) {
          verbatimMismatched += 1;
          if (verbatimExamples.length < 3) {
            verbatimExamples.push(`${frame.verbatim.slice(0, 60)} → ${text.slice(0, 60)}`);
          }
        }
      }
    }
    onProgress(index + 1);
  }
  const barrierText = `fuzz-barrier-${Date.now()}`;
  const barrier = JSON.stringify({ message: barrierText });
  sender.send(Buffer.from(JSON.stringify({ action: "broadcast", message: barrierText })), false);
  let leaked = 0;
  let missed = 0;
  for (const watcher of watchers) {
    const arrived = await watcher.until(
      () => watcher.received.some((frame) => frame.toString("utf8") === barrier),
      ANSWER_MS,
    );
    if (!arrived) throw new Error("The fuzz run's closing broadcast never reached a watcher.");
    if (watcher.closeCode !== undefined) closed += 1;
    const got = countBy(
      watcher.received.map((frame) => frame.toString("utf8")).filter((text) => text !== barrier),
    );
    const expected = countBy(deliveries);
    for (const [text, count] of got) leaked += Math.max(0, count - (expected.get(text) ?? 0));
    for (const [text, count] of expected) missed += Math.max(0, count - (got.get(text) ?? 0));
  }
  for (const client of [sender, ...watchers]) client.socket.close();
  return {
    frames: frames.length,
    answeredWithError,
    delivered: deliveries.length,
    unanswered,
    unansweredKinds,
    leaked,
    missed,
    closed,
    closedForInvalidUtf8,
    verbatimChecked,
    verbatimMismatched,
    verbatimExamples,
  };
}
