import fc from "fast-check";
import { LIMITS, ROUTE_KEYS, ROUTE_SELECTION_FIELD } from "../../functions/contract.js";

/**
 * Frames a hostile client could send, generated with fast-check: bytes that are not UTF-8, binary
 * frames, text that is not JSON, deep nesting, numbers JSON cannot hold exactly, prototype keys,
 * a wrong type at every field, and sizes around the 32 KB frame and 128 KB message limits.
 */
export interface FuzzFrame {
  readonly kind: string;
  readonly data: Buffer;
  readonly binary: boolean;
  /** Set for a broadcast built from raw JSON text: what every client must receive, verbatim. */
  readonly verbatim?: string;
  /** Set for a sendmessage with string data: what every client must receive. */
  readonly sendsData?: string;
}

const action = ROUTE_SELECTION_FIELD;
const text = (kind: string, value: string, extra: Partial<FuzzFrame> = {}): FuzzFrame => ({
  kind,
  data: Buffer.from(value, "utf8"),
  binary: false,
  ...extra,
});

/** Raw JSON text, including numbers JSON.parse would round or overflow. */
const jsonText: fc.Arbitrary<string> = fc.oneof(
  fc.json({ maxDepth: 4 }),
  fc.constantFrom(
    "1e400",
    "-1e400",
    "9007199254740993",
    "123456789012345678901234567890",
    "5e-324",
    "1e-400",
    "-0",
    "0.1000000000000000055511151231257827",
  ),
  fc.constantFrom('{"__proto__":{"polluted":true}}', '{"constructor":{"prototype":{"x":1}}}'),
);

const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.double(),
  fc.integer(),
  fc.string(),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
);

function nested(depth: number): string {
  return `${"[".repeat(depth)}0${"]".repeat(depth)}`;
}

/** Sizes either side of the limits a client may send in properly fragmented frames. */
const LIMIT_SIZES = [
  LIMITS.frameBytes - 1,
  LIMITS.frameBytes,
  LIMITS.frameBytes + 1,
  LIMITS.messageBytes - 64,
  LIMITS.messageBytes - 1,
  LIMITS.messageBytes,
];

export function fuzzFrameArbitrary(options: { maxDepth: number }): fc.Arbitrary<FuzzFrame> {
  return fc.oneof(
    fc
      .uint8Array({ maxLength: 200 })
      .map((bytes) => ({ kind: "binary", data: Buffer.from(bytes), binary: true })),
    fc.uint8Array({ minLength: 1, maxLength: 200 }).map((bytes) => ({
      kind: "invalid UTF-8",
      data: Buffer.concat([Buffer.from(bytes), Buffer.from([0xc3, 0x28, 0xff])]),
      binary: false,
    })),
    fc.string({ maxLength: 200 }).map((value) => text("not JSON", value)),
    jsonText.map((value) => text("JSON, not a command", value)),
    jsonText.map((message) =>
      text("broadcast", `{"${action}":"${ROUTE_KEYS.broadcast}","message":${message}}`, {
        verbatim: `{"message":${message}}`,
      }),
    ),
    fc
      .string({ maxLength: 200 })
      .map((data) =>
        text(
          "sendmessage",
          JSON.stringify({ [action]: ROUTE_KEYS.sendmessage, data }),
          data.length === 0 ? {} : { sendsData: data },
        ),
      ),
    fc.tuple(fc.constantFrom("action", "message", "data"), wrongValue).map(([field, value]) =>
      text(
        "wrong type",
        JSON.stringify({
          [action]: field === "action" ? value : ROUTE_KEYS.sendmessage,
          [field]: value,
        }),
      ),
    ),
    fc
      .constantFrom("__proto__", "constructor", "prototype", "toString", "hasOwnProperty")
      .map((key) =>
        text(
          "prototype key",
          `{"${key}":{"${action}":"${ROUTE_KEYS.broadcast}"},"${action}":"${key}"}`,
        ),
      ),
    fc.integer({ min: 1, max: options.maxDepth }).map((depth) =>
      text("deep nesting", `{"${action}":"${ROUTE_KEYS.broadcast}","message":${nested(depth)}}`, {
        verbatim: `{"message":${nested(depth)}}`,
      }),
    ),
    fc.constantFrom(...LIMIT_SIZES).map((size) => {
      const prefix = `{"${action}":"${ROUTE_KEYS.broadcast}","message":"`;
      const filler = "x".repeat(Math.max(0, size - prefix.length - 2));
      const message = `"${filler}"`;
      return text("near the size limits", `${prefix}${filler}"}`, {
        verbatim: `{"message":${message}}`,
      });
    }),
  );
}

/** Every frame is a JSON document only where noted; `verbatim` holds for broadcasts alone. */
/**
 * A flat copy of a string, code unit for code unit (lone surrogates included). The generators
 * build expected texts by concatenation, which V8 keeps as ropes of small pieces until the first
 * comparison flattens them in place: done during the run, that would add the flat copies (80 MB
 * for 10,000 frames) to the heap after the baseline and read as a leak of the stage.
 */
function flat(value: string): string {
  return Buffer.from(value, "utf16le").toString("utf16le");
}

export function sampleFrames(count: number, seed: number, maxDepth: number): FuzzFrame[] {
  return fc.sample(fuzzFrameArbitrary({ maxDepth }), { numRuns: count, seed }).map((frame) => ({
    ...frame,
    ...(frame.verbatim === undefined ? {} : { verbatim: flat(frame.verbatim) }),
    ...(frame.sendsData === undefined ? {} : { sendsData: flat(frame.sendsData) }),
  }));
}
