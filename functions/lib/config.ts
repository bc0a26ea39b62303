import {
  ENV,
  type EnvName,
  FUNCTIONS,
  type FunctionEnvName,
  type FunctionName,
} from "../contract.js";

/** A variable the function needs is unset or malformed: the stack (or local stage) must set it. */
export class ConfigurationError extends Error {
  override readonly name = "ConfigurationError";
}

type ConfigKey = keyof typeof ENV;

/** The contract key (ENV's property) of each variable named in N. */
type KeyOf<N extends EnvName> = {
  [K in ConfigKey]: (typeof ENV)[K] extends N ? K : never;
}[ConfigKey];

/** A function's configuration: one value per variable FUNCTIONS[fn].env lists, by contract key. */
export type FunctionConfig<F extends FunctionName> = Readonly<
  Record<KeyOf<FunctionEnvName<F>>, string>
>;

// ENV's values are distinct (contract.test.ts), so each name has exactly one key.
const KEY_BY_NAME = Object.fromEntries(
  (Object.keys(ENV) as ConfigKey[]).map((key) => [ENV[key], key]),
) as Record<EnvName, ConfigKey>;

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
 * Reads a function's configuration at cold start: every variable the contract lists for it
 * (FUNCTIONS[fn].env, which the stack and the local stage set), so a new variable is declared in
 * one place. A missing or malformed value fails the cold start with an error naming every variable
 * at fault, rather than a confusing SDK error on the first request.
 */
export function readConfig<F extends FunctionName>(
  fn: F,
  env: NodeJS.ProcessEnv = process.env,
): FunctionConfig<F> {
  const problems: string[] = [];
  const config: Partial<Record<ConfigKey, string>> = {};
  for (const name of FUNCTIONS[fn].env) {
    const key = KEY_BY_NAME[name];
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
  return config as FunctionConfig<F>;
}
