import { describe, expect, it } from "vitest";
import { FrameLimit } from "./frame-limit.js";

/** A masked client frame header for a payload of `length` bytes (payload not included). */
function header(length: number, opcode = 0x1, fin = true): Buffer {
  const first = (fin ? 0x80 : 0) | opcode;
  const mask = [1, 2, 3, 4];
  if (length < 126) return Buffer.from([first, 0x80 | length, ...mask]);
  if (length < 65536) return Buffer.from([first, 0x80 | 126, length >> 8, length & 0xff, ...mask]);
  const extended = Buffer.alloc(8);
  extended.writeBigUInt64BE(BigInt(length));
  return Buffer.concat([Buffer.from([first, 0x80 | 127]), extended, Buffer.from(mask)]);
}

function frame(length: number, opcode = 0x1, fin = true): Buffer {
  return Buffer.concat([header(length, opcode, fin), Buffer.alloc(length)]);
}

function watch(limit: number) {
  const exceeded: number[] = [];
  return { limit: new FrameLimit(limit, (bytes) => exceeded.push(bytes)), exceeded };
}

describe("frame limit", () => {
  it("passes frames up to the limit, whatever the length encoding", () => {
    const { limit, exceeded } = watch(32 * 1024);
    limit.push(Buffer.concat([frame(10), frame(300), frame(32 * 1024), frame(0, 0x9)]));
    expect(exceeded).toEqual([]);
  });

  it("reports the first frame over the limit, with 16- and 64-bit lengths", () => {
    const small = watch(100);
    small.limit.push(Buffer.concat([frame(50), header(101)]));
    expect(small.exceeded).toEqual([101]);
    const large = watch(32 * 1024);
    large.limit.push(header(70_000));
    expect(large.exceeded).toEqual([70_000]);
  });

  it("follows frames split across chunks at any byte", () => {
    const stream = Buffer.concat([
      frame(200, 0x1, false),
      frame(200, 0x0, false),
      frame(5_000, 0x0),
    ]);
    for (const chunkSize of [1, 3, 7, 1000]) {
      const { limit, exceeded } = watch(4_000);
      for (let at = 0; at < stream.length; at += chunkSize)
        limit.push(stream.subarray(at, at + chunkSize));
      expect(exceeded).toEqual([5_000]);
    }
  });

  it("counts the whole messages ahead of the oversized frame, not control frames or fragments", () => {
    const messagesBefore: number[] = [];
    const limit = new FrameLimit(100, (_bytes, before) => messagesBefore.push(before));
    limit.push(
      Buffer.concat([
        frame(10),
        frame(0, 0x2),
        frame(5, 0x9),
        frame(20, 0x1, false),
        frame(20, 0x0),
        frame(30, 0x1, false),
        header(101, 0x0),
      ]),
    );
    expect(messagesBefore).toEqual([3]);
  });
});
