import { type CommandLineOptions, parseCommandLine } from "../cli.js";

/**
 * A command a GitHub Actions job runs as a step. It reads the job's variables (GITHUB_TOKEN,
 * GITHUB_OUTPUT, GITHUB_STEP_SUMMARY…) from `env` and prints through `out`: the process's own by
 * default, a test's own when it passes them.
 */
export type StepCommand = (
  argv: readonly string[],
  env?: NodeJS.ProcessEnv,
  out?: (text: string) => void,
) => Promise<number>;

/** The command line as `parseCommandLine` reads it, once --help is handled. */
export type ParsedCommandLine<T extends CommandLineOptions> = NonNullable<
  ReturnType<typeof parseCommandLine<T>>
>;

/**
 * Makes a step command from its command line and what it does with it: --help prints the usage
 * and exits 0 without running `run`; a mistyped command line throws a UsageError.
 */
export function stepCommand<const T extends CommandLineOptions>(
  commandLine: { options: T; usage: string; allowPositionals?: boolean },
  run: (
    parsed: ParsedCommandLine<T>,
    env: NodeJS.ProcessEnv,
    out: (text: string) => void,
  ) => Promise<number>,
): StepCommand {
  return async (argv, env = process.env, out = (text) => process.stdout.write(text)) => {
    const parsed = parseCommandLine(argv, commandLine);
    if (parsed === undefined) return 0;
    return run(parsed, env, out);
  };
}
