import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleFunctions } from "../bundle.js";
import { failuresOf, runReliability } from "./run.js";

/** The short version of `npm run reliability`: the same checks, fewer frames and clients. */

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "reliability-test-"));
  await bundleFunctions(join(dir, "dist"));
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("reliability", () => {
  it("answers every fuzzed frame to its sender alone, and delivers every message exactly once to every survivor", async () => {
    const report = await runReliability({
      distDir: join(dir, "dist"),
      frames: 300,
      seed: 7,
      maxDepth: 5000,
      clients: 40,
      messages: 12,
      killShare: 0.2,
      requireVerbatim: true,
      judgeHeap: false,
    });
    expect(report.failures).toEqual([]);
    const { fuzz } = report;
    expect(fuzz.answeredWithError + fuzz.delivered + fuzz.closedForInvalidUtf8).toBe(300);
    expect(report.load.expected).toBe(32 * 12);
    expect(report.load.received).toBe(report.load.expected);
  }, 180_000);

  it("reports a loss, a duplicate, a misdirected frame and a leak as failures (the checks can fail)", () => {
    const report = {
      fuzz: {
        frames: 1,
        answeredWithError: 0,
        delivered: 1,
        unanswered: 1,
        unansweredKinds: { "deep nesting": 1 },
        leaked: 1,
        missed: 0,
        closed: 0,
        closedForInvalidUtf8: 0,
        verbatimChecked: 1,
        verbatimMismatched: 1,
        verbatimExamples: [],
      },
      load: {
        clients: 2,
        killed: 0,
        messagesSent: 1,
        expected: 2,
        received: 2,
        lost: 1,
        duplicated: 1,
        staleAfterNextFanOut: 1,
        registryAfterAllLeft: 0,
        seconds: 1,
      },
      memory: { heapBeforeMb: 10, heapAfterMb: 100, leaked: true },
    };
    expect(failuresOf(report.fuzz, report.load, report.memory, true)).toHaveLength(7);
    expect(failuresOf(report.fuzz, report.load, report.memory, false)).toHaveLength(6);
  });
});
