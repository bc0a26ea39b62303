/**
 * API Gateway closes a connection (1009) on any single WebSocket frame over 32 KB, even inside a
 * 128 KB message: clients must fragment. `ws` only limits whole messages, so this reads the frame
 * headers of the raw client stream (RFC 6455 §5.2) and reports the first frame over the limit,
 * with how many whole messages came before it: a read can hold complete frames ahead of the
 * oversized one, and those must still be delivered.
 */
export class FrameLimit {
  private header: number[] = [];
  /** Payload bytes of the current frame still to pass. */
  private remaining = 0;
  private exceeded = false;
  /** Whether the current frame, once passed, completes a data message (FIN, not control). */
  private endsMessage = false;
  private messages = 0;

  constructor(
    private readonly limitBytes: number,
    private readonly onExceeded: (frameBytes: number, messagesBefore: number) => void,
  ) {}

  /** Feeds raw bytes from the client, in order. */
  push(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length && !this.exceeded) {
      if (this.remaining > 0) {
        const skipped = Math.min(this.remaining, chunk.length - offset);
        this.remaining -= skipped;
        offset += skipped;
        if (this.remaining === 0 && this.endsMessage) this.messages += 1;
        continue;
      }
      this.header.push(chunk[offset] as number);
      offset += 1;
      const length = this.headerLength();
      if (length === undefined || this.header.length < length) continue;
      const payload = this.payloadLength();
      const first = this.header[0] as number;
      this.header = [];
      if (payload > this.limitBytes) {
        this.exceeded = true;
        this.onExceeded(payload, this.messages);
        return;
      }
      this.endsMessage = (first & 0x80) !== 0 && (first & 0x0f) < 0x8;
      this.remaining = payload;
      if (payload === 0 && this.endsMessage) this.messages += 1;
    }
  }

  /** Header size once its second byte is known: 2, + 2 or 8 extended length, + 4 mask. */
  private headerLength(): number | undefined {
    const second = this.header[1];
    if (second === undefined) return undefined;
    const length7 = second & 0x7f;
    const extended = length7 === 126 ? 2 : length7 === 127 ? 8 : 0;
    return 2 + extended + (second & 0x80 ? 4 : 0);
  }

  private payloadLength(): number {
    const length7 = (this.header[1] as number) & 0x7f;
    if (length7 < 126) return length7;
    const bytes = this.header.slice(2, length7 === 126 ? 4 : 10);
    return bytes.reduce((total, byte) => total * 256 + byte, 0);
  }
}
