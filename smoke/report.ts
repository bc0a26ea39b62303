import { ms, SMOKE_STEPS, type SmokeResult, type StepResult } from "./smoke.js";

/** The smoke test's words for people: a line per step as it ends, then a verdict. */

const MARKS = { passed: "ok  ", failed: "FAIL", skipped: "skip" } as const;

export function formatStep(step: StepResult): string {
  const head = `${MARKS[step.status]} ${step.number}/${SMOKE_STEPS.length} ${step.title}`;
  if (step.status === "skipped") return `${head} (skipped: ${step.detail})`;
  if (step.failure === undefined) return `${head} — ${ms(step.durationMs)}: ${step.detail}`;
  return [
    `${head} — ${ms(step.durationMs)}`,
    `       expected: ${step.failure.expected}`,
    `       received: ${step.failure.received}`,
    `       next:     ${step.failure.next}`,
  ].join("\n");
}

export function formatVerdict(result: SmokeResult): string {
  const { latencies } = result;
  const pairs = [
    ["connect", latencies.connectMs],
    ["echo → sender", latencies.replyMs],
    ["SNS → client", latencies.snsDeliveryMs],
    ["broadcast → client", latencies.broadcastMs],
  ] as const;
  const lines = pairs
    .filter(([, pair]) => pair !== undefined)
    .map(([label, pair]) => `  ${label.padEnd(19)} A ${ms(pair?.a ?? 0)}, B ${ms(pair?.b ?? 0)}`);
  if (latencies.errorFrameMs !== undefined) {
    lines.push(`  ${"error frame".padEnd(19)} A ${ms(latencies.errorFrameMs)}`);
  }
  const passed = result.steps.filter((step) => step.status === "passed").length;
  const failed = result.steps.find((step) => step.status === "failed");
  const verdict = result.passed
    ? `PASS ${result.stage}: ${passed}/${result.steps.length} steps in ${ms(result.durationMs)}`
    : `FAIL ${result.stage}: step ${failed?.number} (${failed?.name}) failed after ${passed} passed; ${failed?.failure?.next ?? ""}`;
  return [verdict, ...(lines.length > 0 ? ["latencies:", ...lines] : [])].join("\n");
}
