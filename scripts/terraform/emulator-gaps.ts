import type { ResourceChange } from "./plan-summary.js";

/**
 * Differences a re-plan shows after applying to moto_server that come from the emulator, not
 * from the stack: each names the resource type and attributes, and says why it is moto's gap.
 * Anything else the re-plan shows is drift the stack itself causes, and fails the rehearsal.
 */
export interface EmulatorGap {
  readonly resourceType: string;
  readonly attributes: readonly string[];
  readonly explanation: string;
}

export const EMULATOR_GAPS: readonly EmulatorGap[] = [
  {
    resourceType: "aws_lambda_function",
    attributes: ["logging_config"],
    explanation:
      "moto 5.2's Lambda ignores LoggingConfig (JSON format, custom log group) on create and update " +
      "and returns none, so every plan wants to set it again; AWS stores and returns it.",
  },
];

export interface DriftVerdict {
  readonly change: ResourceChange;
  /** The gap explaining it, or undefined for drift the stack causes. */
  readonly gap: EmulatorGap | undefined;
}

function resourceType(address: string): string {
  return address.split(".").at(-2) ?? address;
}

/** Judges each change of a post-apply plan: emulator gap (explained) or real drift. */
export function judgeDrift(changes: readonly ResourceChange[]): DriftVerdict[] {
  return changes.map((change) => ({
    change,
    gap: EMULATOR_GAPS.find(
      (gap) =>
        change.kind === "update" &&
        gap.resourceType === resourceType(change.address) &&
        change.attributes.length > 0 &&
        change.attributes.every((attribute) => gap.attributes.includes(attribute)),
    ),
  }));
}
