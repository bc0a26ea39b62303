import { ENV, FUNCTIONS, type FunctionName } from "../contract.js";

/** A variable the function needs is unset or malformed: the stack (or local stage) must set it. */
export class ConfigurationError extends Error {
  override readonly name = "ConfigurationError";
}

type ConfigKey = keyof typeof ENV;

const VALIDATORS: Partial<Record<ConfigKey, (value: string) => string | undefined>> = {
  connectionsPrefix: (value) =>
    value.endsWith("/") ? undefined : `must end in "/" (got ${JSON.stringify(value)})`,
  topicArn: (value) =>
    /^arn:aws[a-z-]*:sns:[^:]+:[^:]+:[^:]+$/.test(value)
      ? undefined
      : `must be an SNS topic ARN (got ${JSON.stringify(value)})`,
  managementEndpoint: (value) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return `must be an http(s) URL (got ${JSON.stringify(value)})`;
    }
    return url.protocol === "https:" || url.protocol === "http:"
      ? undefined
      : `must be an http(s) URL (got ${JSON.stringify(value)})`;
  },
};

/**
 * Reads a function's configuration at cold start. Every key must be one the contract says the
 * function reads (so the stack sets it); a missing or malformed value fails the cold start with an
 * error naming every variable at fault, rather than a confusing SDK error on the first request.
 */
export function readConfig<const K extends ConfigKey>(
  fn: FunctionName,
  keys: readonly K[],
  env: NodeJS.ProcessEnv = process.env,
): Record<K, string> {
  const declared: readonly string[] = FUNCTIONS[fn].env;
  const problems: string[] = [];
  const config: Partial<Record<K, string>> = {};
  for (const key of keys) {
    const name = ENV[key];
    if (!declared.includes(name)) {
      throw new ConfigurationError(
        `Function ${fn} reads ${name}, which FUNCTIONS.${fn}.env in contract.ts does not list; add it there so the stack sets it.`,
      );
    }
    const value = env[name];
    if (value === undefined || value === "") {
      problems.push(`${name} is not set`);
      continue;
    }
    const invalid = VALIDATORS[key]?.(value);
    if (invalid !== undefined) problems.push(`${name} ${invalid}`);
    else config[key] = value;
  }
  if (problems.length > 0) {
    throw new ConfigurationError(
      `Function ${fn} cannot start: ${problems.join("; ")}. Set it in the function's environment (the stack and the local stage do).`,
    );
  }
  return config as Record<K, string>;
}
