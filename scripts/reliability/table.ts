import type { ReliabilityReport } from "./run.js";

/** The run as a Markdown table, the form the README quotes. */
export function reliabilityTable(report: ReliabilityReport): string {
  const { fuzz, load, memory } = report;
  const rows: [string, string][] = [
    ["frames fuzzed", String(fuzz.frames)],
    ["… answered with an error frame to the sender alone", String(fuzz.answeredWithError)],
    ["… delivered to every client", String(fuzz.delivered)],
    ["… unanswered", String(fuzz.unanswered)],
    ["… reaching a client they were not for", String(fuzz.leaked)],
    ["… connections closed below the size limits", String(fuzz.closed)],
    ["… invalid UTF-8 text frames closed with 1007 (RFC 6455)", String(fuzz.closedForInvalidUtf8)],
    [
      "broadcasts delivered verbatim (check: verbatim)",
      `${fuzz.verbatimChecked - fuzz.verbatimMismatched} of ${fuzz.verbatimChecked}`,
    ],
    ["clients / killed mid-run", `${load.clients} / ${load.killed}`],
    ["messages sent (SNS and client broadcasts)", String(load.messagesSent)],
    ["deliveries expected (survivors × messages)", String(load.expected)],
    ["deliveries received", String(load.received)],
    ["lost", String(load.lost)],
    ["duplicated", String(load.duplicated)],
    ["registry entries not live after the next fan-out", String(load.staleAfterNextFanOut)],
    ["registry entries after every client left", String(load.registryAfterAllLeft)],
    ["load run", `${load.seconds} s`],
    ["function invocations that threw or timed out", String(report.failedInvocations)],
    ["heap before / after", `${memory.heapBeforeMb} MB / ${memory.heapAfterMb} MB`],
    ["verdict", report.failures.length === 0 ? "pass" : `FAIL: ${report.failures.join("; ")}`],
  ];
  return [
    "| check | result |",
    "|---|---|",
    ...rows.map(([name, value]) => `| ${name} | ${value} |`),
  ].join("\n");
}
