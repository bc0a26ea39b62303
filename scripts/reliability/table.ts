import { FAULT_KINDS, type FaultKind } from "../local/faults.js";
import type { ReliabilityReport } from "./run.js";

const FAULT_NAMES: Record<FaultKind, string> = {
  gone: "@connections 410 Gone (connection dropped)",
  throttle: "@connections 429",
  error: "@connections 500",
  slow: "@connections answers delayed",
  s3: "S3 503 SlowDown",
  throws: "function threw",
  timeout: "function timed out",
};

function shutdownRows(shutdown: ReliabilityReport["shutdown"]): [string, string][] {
  if (shutdown === undefined) {
    return [["npm start in a terminal (timeouts, Ctrl-C)", "skipped: no util-linux script"]];
  }
  const { timeouts, interrupt } = shutdown;
  return [
    [
      "idle timeout / maximum duration (npm start --idle-timeout --max-connection)",
      `closed with ${timeouts.idleClosedWith} / ${timeouts.maxDurationClosedWith}, ${timeouts.disconnects} of 2 $disconnects run`,
    ],
    [
      "Ctrl-C on npm start in a terminal, during a fan-out",
      `${interrupt.closedGoingAway} of ${interrupt.clients} clients closed with 1001, ${interrupt.disconnects} of ${interrupt.connects} $disconnects run, state file ${interrupt.stateFileLeft ? "LEFT" : "removed"}, npm ${interrupt.exit}`,
    ],
  ];
}

/** The run as a Markdown table, the form the README quotes. */
export function reliabilityTable(report: ReliabilityReport): string {
  const { fuzz, load, memory, faults } = report;
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
    [
      "clients / refused at the handshake / killed mid-run",
      `${load.clients} / ${load.refused} / ${load.killed}`,
    ],
    ["messages sent (SNS and client broadcasts)", String(load.messagesSent)],
    ["deliveries expected (survivors × messages)", String(load.expected)],
    ["deliveries received", String(load.received)],
    ["lost", String(load.lost)],
    ["duplicated", String(load.duplicated)],
    ["registry entries not live after the next fan-out", String(load.staleAfterNextFanOut)],
    ["registry entries after every client left", String(load.registryAfterAllLeft)],
    ["load run", `${load.seconds} s`],
    [
      "function invocations that threw or timed out (fuzz and load)",
      String(report.failedInvocations),
    ],
    ["heap before / after (after gc)", `${memory.heapBeforeMb} MB / ${memory.heapAfterMb} MB`],
    ...FAULT_KINDS.map((kind): [string, string] => [
      `faults injected: ${FAULT_NAMES[kind]}`,
      String(faults.injected[kind]),
    ]),
    ...faults.scenarios.map((scenario): [string, string] => [
      `fault scenario: ${scenario.name}`,
      `${scenario.problems.length === 0 ? "pass" : "FAIL"}: ${scenario.received} of ${scenario.expected} deliveries (${scenario.sent} sent${scenario.refused > 0 ? `, ${scenario.refused} refused to the sender` : ""}), ${scenario.lost} lost, ${scenario.duplicated} duplicated${scenario.problems.length === 0 ? "" : `; ${scenario.problems.join(", ")}`}`,
    ]),
    [
      "fault scenarios: messages sent / deliveries expected / received / lost / duplicated",
      `${faults.sent} / ${faults.expected} / ${faults.received} / ${faults.lost} / ${faults.duplicated}`,
    ],
    ...shutdownRows(report.shutdown),
    ["verdict", report.failures.length === 0 ? "pass" : `FAIL: ${report.failures.join("; ")}`],
  ];
  return [
    "| check | result |",
    "|---|---|",
    ...rows.map(([name, value]) => `| ${name} | ${value} |`),
  ].join("\n");
}
