import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type ParseArgsConfig, parseArgs } from "node:util";
import { isStage, STAGES, type Stage } from "../functions/contract.js";
import { ExpectedError } from "../smoke/errors.js";

/** A command typed wrong: the message says what to type instead. Exit code 2. */
export class UsageError extends ExpectedError {
  override readonly name = "UsageError";
  constructor(message: string) {
    super(message, { exitCode: 2 });
  }
}

/** The options a command takes, as node's parseArgs declares them. */
export type CommandLineOptions = NonNullable<ParseArgsConfig["options"]>;

/**
 * Parses argv with node's parseArgs, turning its errors into UsageErrors and handling --help.
 * Returns undefined when help was printed.
 */
export function parseCommandLine<const T extends CommandLineOptions>(
  argv: readonly string[],
  config: { options: T; usage: string; allowPositionals?: boolean },
) {
  const options = { ...config.options, help: { type: "boolean", short: "h" } } as const;
  const parse = () => parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse();
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${config.usage.trim()}`);
  }
  if ((parsed.values as { help?: boolean }).help === true) {
    process.stdout.write(`${config.usage.trim()}\n`);
    return undefined;
  }
  if (config.allowPositionals !== true && parsed.positionals.length > 0) {
    throw new UsageError(`Unexpected argument ${parsed.positionals[0]}.\n\n${config.usage.trim()}`);
  }
  return parsed;
}

/** Reads a stage name argument, or says which names exist. */
export function stageArgument(value: string | undefined, usage: string): Stage {
  if (value === undefined)
    throw new UsageError(`Name a stage: one of ${STAGES.join(", ")}.\n\n${usage.trim()}`);
  if (!isStage(value)) {
    throw new UsageError(
      `Unknown stage "${value}": use one of ${STAGES.join(", ")}.\n\n${usage.trim()}`,
    );
  }
  return value;
}

/**
 * Reads a command's one action word (`print`, `read`…), or says which ones exist and when each is
 * used. `actions` maps each word to where it is used, e.g. `{ print: "in the build job" }`.
 */
export function actionArgument<const A extends string>(
  positionals: readonly string[],
  actions: Readonly<Record<A, string>>,
  usage: string,
): A {
  const [action, ...extra] = positionals;
  if (extra.length > 0) throw new UsageError(`Unexpected argument ${extra[0]}.\n\n${usage.trim()}`);
  if (action !== undefined && Object.hasOwn(actions, action)) return action as A;
  const choices = (Object.entries(actions) as [A, string][]).map(
    ([name, when]) => `${name} (${when})`,
  );
  const listed = `${choices.slice(0, -1).join(", ")} or ${choices.at(-1)}`;
  throw new UsageError(
    `Say ${listed}${action === undefined ? "" : `, not "${action}"`}.\n\n${usage.trim()}`,
  );
}

/**
 * Runs `main` with the command line when the module at `moduleUrl` is the one node was started
 * with (`tsx scripts/x.ts`), and not when a test imports it.
 */
export function runIfMain(
  moduleUrl: string,
  main: (argv: readonly string[]) => Promise<number | undefined>,
): void {
  const entry = process.argv[1];
  if (entry !== undefined && resolve(entry) === fileURLToPath(moduleUrl)) {
    runCommand(() => main(process.argv.slice(2)));
  }
}

/**
 * Runs a command's main function: expected failures print their message (no stack trace) and exit
 * with their code; anything else is a bug and prints in full.
 */
export function runCommand(main: () => Promise<number | undefined>): void {
  // On Node 20 the SDK warns on every command that its releases after January 2027 need Node 22.
  // The README says so once; repeating it on stderr of every command only buries the output.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  main().then(
    (code) => {
      process.exitCode = code ?? 0;
    },
    (error: unknown) => {
      if (error instanceof ExpectedError) {
        process.stderr.write(`${error.message}\n`);
        process.exitCode = error.exitCode;
      } else {
        process.stderr.write(`Unexpected failure (a bug; please report it):\n`);
        console.error(error);
        process.exitCode = 70;
      }
    },
  );
}
