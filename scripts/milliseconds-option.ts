import { UsageError } from "./cli.js";

/** Reads an option given in whole milliseconds (--timeout 5000), or says how to write it. */
export function millisecondsOption(
  option: string,
  value: string | undefined,
  fallback: number,
  usage: string,
): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0) {
    throw new UsageError(
      `${option} takes a whole number of milliseconds, e.g. ${option} 5000 (got "${value}").\n\n${usage.trim()}`,
    );
  }
  return parsed;
}
