import { execFile } from "node:child_process";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import {
  type DeployedStage,
  LOCAL_STAGE,
  STACK_OUTPUTS,
  STATE_DIR,
  STATE_DIR_ENV,
  type Stage,
  type StageOutputs,
  SYNTH_DIR,
  stackName,
} from "../functions/contract.js";
import { StageNotUpError } from "./errors.js";

/**
 * Where each stage's outputs come from:
 * - local: the state file the running local stage writes, valid while its process lives;
 * - deployed: the state file `npm run deploy` records, else `terraform output` of the stage's
 *   synthesized stack (for a machine that did not deploy but can read the state backend).
 */

interface StateFile {
  readonly outputs: StageOutputs;
  /** The local stage's process id: the file is stale once that process is gone. */
  readonly pid?: number;
  readonly recordedAt: string;
}

export interface StateLocation {
  /** Repository root; defaults to the working directory. */
  readonly root?: string;
  /** Environment consulted for STATE_DIR_ENV; defaults to process.env. */
  readonly env?: NodeJS.ProcessEnv;
}

export function stateDir(location: StateLocation = {}): string {
  const env = location.env ?? process.env;
  return resolve(location.root ?? process.cwd(), env[STATE_DIR_ENV] ?? STATE_DIR);
}

function stateFile(stage: Stage, location: StateLocation): string {
  return join(stateDir(location), `${stage}.json`);
}

/** Records a stage's outputs (atomically: readers never see half a file). */
export async function recordStageOutputs(
  outputs: StageOutputs,
  options: StateLocation & { pid?: number } = {},
): Promise<string> {
  const file = stateFile(outputs.stage, options);
  await mkdir(stateDir(options), { recursive: true });
  const content: StateFile = {
    outputs,
    ...(options.pid === undefined ? {} : { pid: options.pid }),
    recordedAt: new Date().toISOString(),
  };
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(content, null, 2)}\n`);
  await rename(temporary, file);
  return file;
}

/** Forgets a stage's recorded outputs, e.g. when the local stage stops. */
export async function clearStageOutputs(stage: Stage, location: StateLocation = {}): Promise<void> {
  await rm(stateFile(stage, location), { force: true });
}

export async function resolveStageOutputs(
  stage: Stage,
  location: StateLocation = {},
): Promise<StageOutputs> {
  const recorded = await readStateFile(stage, location);
  if (stage === LOCAL_STAGE) {
    if (recorded === undefined) {
      throw new StageNotUpError(
        "The local stage is not running. Start it with `npm start` (in another terminal).",
      );
    }
    if (recorded.pid === undefined || !processIsAlive(recorded.pid)) {
      throw new StageNotUpError(
        `The local stage is not running (its process ${recorded.pid ?? "?"} has exited). ` +
          "Start it with `npm start`.",
      );
    }
    return recorded.outputs;
  }
  return recorded?.outputs ?? (await terraformOutputs(stage, location));
}

async function readStateFile(
  stage: Stage,
  location: StateLocation,
): Promise<StateFile | undefined> {
  const file = stateFile(stage, location);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new StageNotUpError(`${file} is not valid JSON: delete it and record the stage again.`);
  }
  const outputs = (parsed as Partial<StateFile> | null)?.outputs;
  const missing = missingOutputs(outputs);
  if (missing.length > 0 || outputs?.stage !== stage) {
    throw new StageNotUpError(
      `${file} does not hold ${stage}'s outputs (missing: ${[...missing, ...(outputs?.stage === stage ? [] : ["stage"])].join(", ")}): delete it and record the stage again.`,
    );
  }
  return parsed as StateFile;
}

function missingOutputs(outputs: Partial<StageOutputs> | undefined): string[] {
  return STACK_OUTPUTS.filter((key) => typeof outputs?.[key] !== "string" || outputs[key] === "");
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

const run = promisify(execFile);

/** Reads a deployed stage's outputs from its Terraform state through the synthesized stack. */
async function terraformOutputs(
  stage: DeployedStage,
  location: StateLocation,
): Promise<StageOutputs> {
  const stackDir = resolve(location.root ?? process.cwd(), SYNTH_DIR, "stacks", stackName(stage));
  const notDeployed = `Stage ${stage} has no recorded outputs on this machine. Deploy it with \`npm run deploy -- ${stage}\`, or run \`npm run synth\` and \`terraform -chdir=${SYNTH_DIR}/stacks/${stackName(stage)} init\` with its state backend configured to read them.`;
  const initialised = await stat(join(stackDir, ".terraform")).then(
    () => true,
    () => false,
  );
  if (!initialised) throw new StageNotUpError(notDeployed);
  let stdout: string;
  try {
    ({ stdout } = await run("terraform", [`-chdir=${stackDir}`, "output", "-json"], {
      maxBuffer: 16 * 1024 * 1024,
    }));
  } catch (error) {
    const detail = (error as { stderr?: string }).stderr?.trim() || (error as Error).message;
    throw new StageNotUpError(`${notDeployed}\n\`terraform output\` said: ${detail}`, {
      cause: error,
    });
  }
  const raw = JSON.parse(stdout) as Record<string, { value?: unknown }>;
  const values = Object.fromEntries(
    Object.entries(raw).map(([name, output]) => [name, output.value]),
  ) as Partial<StageOutputs>;
  const missing = missingOutputs(values);
  if (missing.length > 0) {
    throw new StageNotUpError(
      `${notDeployed}\nIts Terraform state lacks the outputs ${missing.join(", ")}.`,
    );
  }
  const outputs: Record<string, string> = { stage };
  for (const key of STACK_OUTPUTS) outputs[key] = String(values[key]);
  return outputs as unknown as StageOutputs;
}
