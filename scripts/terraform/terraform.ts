import { spawn } from "node:child_process";
import { ExpectedError } from "../../smoke/errors.js";

/** Terraform is not on PATH: say where to get it. */
export class TerraformMissingError extends ExpectedError {
  override readonly name = "TerraformMissingError";
  constructor() {
    super(
      "terraform was not found on PATH. Install Terraform 1.10 or newer " +
        "(https://developer.hashicorp.com/terraform/install), or put its folder on PATH, then run this again.",
    );
  }
}

/**
 * `terraform apply PLANFILE` refused the plan because the state changed after it was made (another
 * deploy ran in between). Terraform changes nothing in that case.
 */
export class StalePlanError extends ExpectedError {
  override readonly name = "StalePlanError";
  constructor(stage: string, planFile: string) {
    super(
      `The saved plan ${planFile} for ${stage} is stale: ${stage}'s state changed after the plan was made ` +
        "(another deploy ran in between), so Terraform refused it and changed nothing. " +
        "Re-run the promotion (or the Main run) to make a fresh plan, review it, and approve that one.",
    );
  }
}

/** Terraform's own words for a stale saved plan (`Error: Saved plan is stale`). */
export function isStalePlanRefusal(output: string): boolean {
  return /Saved plan is stale/.test(output);
}

export interface TerraformRun {
  /** The stack folder (`-chdir`). */
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
  /**
   * "stream": terraform's output goes to stderr as it comes (long operations show progress);
   * "capture": kept and shown only when terraform fails.
   */
  readonly output: "stream" | "capture";
}

export interface TerraformResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs terraform; resolves with its exit code (non-zero too: callers decide what it means). */
export function runTerraform(args: readonly string[], run: TerraformRun): Promise<TerraformResult> {
  return new Promise((resolvePromise, reject) => {
    // Colour only for a person watching: captured text and logs (CI summaries) stay plain.
    const plain = (run.output === "capture" || !process.stderr.isTTY) && args[0] !== "version";
    const color = plain ? ["-no-color"] : [];
    const [command = "", ...rest] = args;
    const child = spawn("terraform", [`-chdir=${run.dir}`, command, ...color, ...rest], {
      env: { CHECKPOINT_DISABLE: "1", TF_IN_AUTOMATION: "1", ...run.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      if (run.output === "stream") process.stderr.write(chunk);
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
      if (run.output === "stream") process.stderr.write(chunk);
    });
    child.on("error", (error: NodeJS.ErrnoException) => {
      reject(error.code === "ENOENT" ? new TerraformMissingError() : error);
    });
    child.on("close", (code) => resolvePromise({ code: code ?? 1, stdout, stderr }));
  });
}

/** Runs terraform and fails with what it said unless it exits 0. */
export async function terraform(
  args: readonly string[],
  run: TerraformRun,
  what: string,
): Promise<TerraformResult> {
  const result = await runTerraform(args, run);
  if (result.code !== 0) {
    const said = run.output === "capture" ? `\n${(result.stderr || result.stdout).trim()}` : "";
    throw new ExpectedError(`${what} failed (terraform ${args[0]} exited ${result.code}).${said}`);
  }
  return result;
}

/** The oldest Terraform with S3-native state locking (`use_lockfile`). */
const MINIMUM_VERSION = [1, 10] as const;

/** Checks that terraform is installed and new enough; returns its version. */
export async function requireTerraform(): Promise<string> {
  const { stdout } = await terraform(
    ["version", "-json"],
    { dir: ".", env: process.env, output: "capture" },
    "terraform version",
  );
  const version = (JSON.parse(stdout) as { terraform_version?: string }).terraform_version ?? "";
  const [major = 0, minor = 0] = version.split(".").map(Number);
  if (major < MINIMUM_VERSION[0] || (major === MINIMUM_VERSION[0] && minor < MINIMUM_VERSION[1])) {
    throw new ExpectedError(
      `terraform ${version || "(unknown version)"} is too old: install ${MINIMUM_VERSION.join(".")} or newer.`,
    );
  }
  return version;
}
