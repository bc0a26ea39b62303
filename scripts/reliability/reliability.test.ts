import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleFunctions } from "../bundle.js";
import { failuresOf, runReliability } from "./run.js";
import { interruptScenario, shutdownFailures, timeoutsScenario } from "./shutdown.js";
import { hasUtilLinuxScript } from "./terminal-stage.js";

/** The short version of `npm run reliability`: the same checks, fewer frames and clients. */

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "reliability-test-"));
  await bundleFunctions(join(dir, "dist"));
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const short = {
  seed: 7,
  maxDepth: 5000,
  killShare: 0.2,
  connectConcurrency: 4,
  requireVerbatim: true,
  judgeHeap: false,
} as const;

describe("reliability", () => {
  it("answers every fuzzed frame to its sender alone, and delivers every message exactly once to every survivor", async () => {
    const report = await runReliability({
      ...short,
      distDir: join(dir, "dist"),
      frames: 300,
      clients: 40,
      messages: 12,
      faultClients: 0,
      faultMessages: 0,
      interruptClients: 0,
    });
    expect(report.failures).toEqual([]);
    const { fuzz } = report;
    expect(fuzz.answeredWithError + fuzz.delivered + fuzz.closedForInvalidUtf8).toBe(300);
    expect(report.load.expected).toBe(32 * 12);
    expect(report.load.received).toBe(report.load.expected);
  }, 300_000);

  it("injects each fault and finds its expected outcome: nothing lost, nothing duplicated, nothing half-registered", async () => {
    const report = await runReliability({
      ...short,
      distDir: join(dir, "dist"),
      frames: 10,
      clients: 4,
      messages: 2,
      faultClients: 12,
      faultMessages: 4,
      interruptClients: 0,
    });
    // Every fault scenario ran, injected its faults (evenly spread, so the counts are exact) and
    // passed: failures would name any that did not.
    const { faults } = report;
    expect(report.failures).toEqual([]);
    expect(faults.scenarios).toHaveLength(11);
    expect(faults.injected.throttle).toBe(3 * 4);
    expect(faults.injected.error).toBe(3 * 4);
    expect(faults.injected.gone).toBeGreaterThan(0);
    expect(faults.injected.slow).toBeGreaterThan(0);
    expect(faults.injected.s3).toBeGreaterThan(0);
    expect(faults.injected.throws).toBe(2);
    expect(faults.injected.timeout).toBe(2);
    expect(faults.lost + faults.duplicated).toBe(0);
    expect(faults.received).toBe(faults.expected);
  }, 300_000);

  it.skipIf(!hasUtilLinuxScript())(
    "npm start in a terminal: idle timeout and maximum duration close with 1001, Ctrl-C closes every client cleanly",
    async () => {
      const timeouts = await timeoutsScenario(join(dir, "dist"));
      const interrupt = await interruptScenario(join(dir, "dist"), 30);
      expect(shutdownFailures(timeouts, interrupt)).toEqual([]);
      expect(interrupt.disconnects).toBe(30);
    },
    120_000,
  );

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
        refused: 1,
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
      faults: {
        scenarios: [
          {
            name: "a fault",
            injected: { gone: 1 },
            sent: 1,
            refused: 0,
            expected: 1,
            received: 0,
            lost: 1,
            duplicated: 0,
            problems: ["1 messages lost"],
          },
        ],
      },
    };
    const failures = failuresOf(report.fuzz, report.load, report.memory, report.faults, true);
    expect(failures).toHaveLength(9);
    expect(failures).toContain('fault scenario "a fault": 1 messages lost');
    expect(
      failuresOf(report.fuzz, report.load, report.memory, { scenarios: [] }, false),
    ).toHaveLength(7);
  });
});
