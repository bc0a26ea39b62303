import { EventEmitter, once } from "node:events";
import { appendFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { LocalLogEntry } from "../local/local-log.js";
import {
  followLocalLog,
  formatLocalEntry,
  localEntrySource,
  localLineFilter,
  parseLocalLine,
} from "./local.js";
import { LOG_SOURCES } from "./sources.js";

const invocation: LocalLogEntry = {
  time: "2026-11-23T10:00:01.250Z",
  type: "invocation",
  function: "message",
  requestId: "r-1",
  trigger: "broadcast",
  connectionId: "L0SM9cOFvHcCIhw=",
  durationMs: 12.4,
  result: "ok",
  statusCode: 200,
};
const powertools: LocalLogEntry = {
  time: "2026-11-23T10:00:01.240Z",
  type: "log",
  function: "subscriber",
  requestId: "r-2",
  stream: "stdout",
  line: JSON.stringify({
    level: "INFO",
    message: "Delivered",
    timestamp: "2026-11-23T10:00:01.240Z",
    service: "websocket-stages",
    cold_start: true,
    delivered: 2,
    gone: 0,
  }),
};
const gateway: LocalLogEntry = {
  time: "2026-11-23T10:00:02.000Z",
  type: "gateway",
  event: "closed",
  connectionId: "abc=",
  code: 1000,
  reason: "done",
};

describe("formatLocalEntry", () => {
  it("shows an invocation's trigger, result, status, duration and connection", () => {
    expect(formatLocalEntry(invocation)).toBe(
      "10:00:01.250 message     broadcast → ok 200 in 12 ms connection L0SM9cOFvHcCIhw=",
    );
  });

  it("shows a Powertools line as level, message and the keys that matter", () => {
    expect(formatLocalEntry(powertools)).toBe(
      '10:00:01.240 subscriber  INFO  Delivered {"delivered":2,"gone":0}',
    );
  });

  it("shows a plain function line as it is, marking stderr", () => {
    const line = { ...powertools, stream: "stderr", line: "boom" } as const;
    expect(formatLocalEntry(line)).toBe("10:00:01.240 subscriber  (stderr) boom");
  });

  it("shows gateway events as the api source", () => {
    expect(formatLocalEntry(gateway)).toBe("10:00:02.000 api         closed abc= (1000 done)");
    expect(localEntrySource(gateway)).toBe("api");
    expect(localEntrySource(invocation)).toBe("message");
  });

  it("keeps a line that is not an entry as text", () => {
    expect(parseLocalLine("not json")).toBe("not json");
    expect(parseLocalLine('{"type":"other"}')).toBe('{"type":"other"}');
    expect(parseLocalLine(JSON.stringify(gateway))).toEqual(gateway);
  });
});

describe("localLineFilter", () => {
  const lines = [invocation, powertools, gateway].map((entry) => JSON.stringify(entry));

  it("keeps only the chosen functions' entries", () => {
    expect(lines.filter(localLineFilter(["subscriber"]))).toEqual([lines[1]]);
    expect(lines.filter(localLineFilter(["message", "api"]))).toEqual([lines[0], lines[2]]);
  });

  it("keeps lines that are not entries only when nothing is filtered out", () => {
    expect(localLineFilter(LOG_SOURCES)("stray text")).toBe(true);
    expect(localLineFilter(["message"])("stray text")).toBe(false);
  });
});

describe("followLocalLog", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "logs-local-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Follows `file`; `act` runs once the `initial` earlier lines have been shown. */
  async function follow(options: {
    file: string;
    lines: number;
    initial: number;
    act: () => Promise<void>;
    want: number;
    select?: (line: string) => boolean;
  }) {
    const seen: string[] = [];
    const shown = new EventEmitter();
    const controller = new AbortController();
    const following = followLocalLog(options.file, {
      lines: options.lines,
      signal: controller.signal,
      pollMs: 10,
      ...(options.select === undefined ? {} : { select: options.select }),
      onLine: (line) => {
        seen.push(line);
        shown.emit("line");
      },
    });
    /** Waits for the count-th line shown; after 5 s the test's assertions say what is missing. */
    const until = async (count: number) => {
      const deadline = Date.now() + 5000;
      while (seen.length < count) {
        const left = deadline - Date.now();
        if (left <= 0) return;
        await once(shown, "line", { signal: AbortSignal.timeout(left) }).catch(() => undefined);
      }
    };
    await until(options.initial);
    await options.act();
    await until(options.want);
    controller.abort();
    await following;
    return seen;
  }

  it("shows the last lines, then each whole line appended, holding back a half-written one", async () => {
    const file = join(dir, "local.log");
    await writeFile(file, "one\ntwo\nthree\nhal");
    const seen = await follow({
      file,
      lines: 2,
      initial: 2,
      act: () => appendFile(file, "f\nfour\n"),
      want: 4,
    });
    expect(seen).toEqual(["two", "three", "half", "four"]);
  });

  it("counts the earlier lines it shows among the selected ones only", async () => {
    const file = join(dir, "local.log");
    await writeFile(file, "a1\nb1\na2\nb2\nb3\n");
    const onlyA = (line: string) => line.startsWith("a");
    const seen = await follow({
      file,
      lines: 2,
      initial: 2,
      act: () => appendFile(file, "b4\na3\n"),
      want: 3,
      select: onlyA,
    });
    expect(seen).toEqual(["a1", "a2", "a3"]);
  });

  it("waits for a log that does not exist yet", async () => {
    const file = join(dir, "later.log");
    const seen = await follow({
      file,
      lines: 10,
      initial: 0,
      act: () => writeFile(file, "first\n"),
      want: 1,
    });
    expect(seen).toEqual(["first"]);
  });
});
