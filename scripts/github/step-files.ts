import { appendFile } from "node:fs/promises";

/**
 * The files GitHub Actions gives each step: GITHUB_STEP_SUMMARY (Markdown shown on the run's
 * page) and GITHUB_OUTPUT (`name=value` lines later steps and jobs read). Outside Actions neither
 * is set and both writes are skipped.
 */

/** Appends Markdown to the run's summary; false when not running in GitHub Actions. */
export async function appendStepSummary(
  markdown: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<boolean> {
  const file = env.GITHUB_STEP_SUMMARY;
  if (file === undefined || file === "") return false;
  await appendFile(file, markdown.endsWith("\n") ? markdown : `${markdown}\n`);
  return true;
}

/** Sets step outputs; values must be single-line (the multi-line form is not needed here). */
export async function setStepOutputs(
  outputs: Readonly<Record<string, string>>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<boolean> {
  const file = env.GITHUB_OUTPUT;
  if (file === undefined || file === "") return false;
  const lines = Object.entries(outputs).map(([name, value]) => {
    if (/[\r\n]/.test(value)) throw new Error(`Step output ${name} must be one line.`);
    return `${name}=${value}\n`;
  });
  await appendFile(file, lines.join(""));
  return true;
}

/** The URL of the current workflow run, when running in GitHub Actions. */
export function currentRunUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const { GITHUB_SERVER_URL: server, GITHUB_REPOSITORY: repository, GITHUB_RUN_ID: runId } = env;
  if (!server || !repository || !runId) return undefined;
  return `${server}/${repository}/actions/runs/${runId}`;
}
