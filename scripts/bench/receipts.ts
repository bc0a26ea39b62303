/**
 * Every client's receipts in a bench run. A run passes only when every client received every
 * message sent while it was connected exactly once: a lost, duplicated or unknown message fails it.
 */

export interface Audit {
  readonly expected: number;
  readonly lost: number;
  readonly duplicated: number;
  /** Messages no one sent (a corrupted frame, or one from another run). */
  readonly unknown: number;
  /** A few `client #i: seq n ×k` lines, for the report. */
  readonly examples: readonly string[];
}

const EXAMPLES = 5;

export class Receipts {
  /** Per client: message sequence number → times received. */
  private readonly received: Map<number, number>[];
  /** Per sequence number: how many distinct clients have it. */
  private readonly reached = new Map<number, number>();
  private unknownCount = 0;

  constructor(readonly clients: number) {
    this.received = Array.from({ length: clients }, () => new Map<number, number>());
  }

  /** Records one frame a client got; returns how many clients now have that message. */
  record(client: number, frame: string): number {
    const seq = sequenceOf(frame);
    const counts = this.received[client];
    if (seq === undefined || counts === undefined) {
      this.unknownCount += 1;
      return 0;
    }
    const times = (counts.get(seq) ?? 0) + 1;
    counts.set(seq, times);
    if (times > 1) return this.reached.get(seq) ?? 0;
    const reached = (this.reached.get(seq) ?? 0) + 1;
    this.reached.set(seq, reached);
    return reached;
  }

  /** Checks every client against the messages sent to all of them. */
  audit(sent: readonly number[]): Audit {
    const expected = new Set(sent);
    let lost = 0;
    let duplicated = 0;
    let unknown = this.unknownCount;
    const examples: string[] = [];
    const note = (line: string) => {
      if (examples.length < EXAMPLES) examples.push(line);
    };
    this.received.forEach((counts, client) => {
      for (const seq of expected) {
        const times = counts.get(seq) ?? 0;
        if (times === 0) {
          lost += 1;
          note(`client #${client}: message ${seq} lost`);
        } else if (times > 1) {
          duplicated += times - 1;
          note(`client #${client}: message ${seq} received ${times} times`);
        }
      }
      for (const [seq, times] of counts) {
        if (!expected.has(seq)) {
          unknown += times;
          note(`client #${client}: message ${seq} was never sent`);
        }
      }
    });
    return { expected: expected.size * this.clients, lost, duplicated, unknown, examples };
  }
}

/** The frame every bench message is: `{"seq":n}`, posted verbatim (the SNS path does not wrap it). */
export function benchFrame(seq: number): string {
  return JSON.stringify({ seq });
}

export function sequenceOf(frame: string): number | undefined {
  try {
    const parsed: unknown = JSON.parse(frame);
    const seq = (parsed as { seq?: unknown } | null)?.seq;
    return typeof seq === "number" && Number.isInteger(seq) ? seq : undefined;
  } catch {
    return undefined;
  }
}

export function passed(audit: Audit): boolean {
  return audit.lost === 0 && audit.duplicated === 0 && audit.unknown === 0;
}
