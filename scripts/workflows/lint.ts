import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ExpectedError } from "../../smoke/errors.js";
import { parseCommandLine, runCommand } from "../cli.js";
import { actionlint } from "./actionlint.js";
import { checkReusableCalls } from "./calls.js";
import { checkDelivery } from "./delivery.js";
import { checkHygiene } from "./hygiene.js";
import { checkNpmScripts } from "./npm-scripts.js";
import { shellcheckRunScripts } from "./shellcheck.js";
import { type Finding, loadWorkflows, WORKFLOWS_DIR, type Workflow } from "./workflow.js";

const USAGE = `
Usage: npm run lint:workflows [-- --json]

Checks ${WORKFLOWS_DIR}/*.yml with actionlint, feeds every run: script to shellcheck, and checks
what neither tool does: calls of local reusable workflows pass exactly their inputs, every
\`npm run <name>\` exists in package.json, and the project's rules (permissions: {} with minimal
per-job grants, a timeout on every job, actions pinned by SHA, header comments, Node version) and
the delivery rules: applies apply a plan made earlier in the run, approval sits on the apply, no
plan takes the state lock, the region comes from the project, and every OIDC subject a job
presents is one its role trusts.
Exits 1 when anything is found.

  --json   print the findings as one JSON array
`;

const REPOSITORY_ROOT = fileURLToPath(new URL("../..", import.meta.url));

async function packageScripts(root: string): Promise<Record<string, string>> {
  const manifest = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as {
    scripts?: Record<string, string>;
  };
  return manifest.scripts ?? {};
}

async function lintWorkflows(
  workflows: readonly Workflow[],
  scripts: Readonly<Record<string, string>>,
  progress: (line: string) => void = () => {},
): Promise<Finding[]> {
  const checks: Array<[string, () => Finding[] | Promise<Finding[]>]> = [
    ["yaml", () => workflows.flatMap((workflow) => workflow.syntaxErrors)],
    ["actionlint", () => actionlint(workflows)],
    ["shellcheck", () => shellcheckRunScripts(workflows)],
    ["reusable workflow calls", () => checkReusableCalls(workflows)],
    ["npm scripts", () => checkNpmScripts(workflows, scripts)],
    ["permissions, timeouts, pins", () => checkHygiene(workflows)],
    ["delivery: reviewed plans, locks, regions, OIDC subjects", () => checkDelivery(workflows)],
  ];
  const findings: Finding[] = [];
  for (const [name, check] of checks) {
    const found = await check();
    progress(`${name}: ${found.length === 0 ? "ok" : `${found.length} finding(s)`}`);
    findings.push(...found);
  }
  return findings.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
}

async function main(argv: readonly string[]): Promise<number | undefined> {
  const parsed = parseCommandLine(argv, { options: { json: { type: "boolean" } }, usage: USAGE });
  if (parsed === undefined) return 0;
  const workflows = await loadWorkflows(REPOSITORY_ROOT);
  if (workflows.length === 0) {
    throw new ExpectedError(
      `No workflow file matched ${WORKFLOWS_DIR}/*.yml under ${REPOSITORY_ROOT}: nothing was linted. ` +
        "Run this from a checkout of the repository that has its workflows.",
    );
  }
  process.stderr.write(`Linting ${workflows.length} workflow file(s) in ${WORKFLOWS_DIR}\n`);
  const findings = await lintWorkflows(workflows, await packageScripts(REPOSITORY_ROOT), (line) =>
    process.stderr.write(`  ${line}\n`),
  );
  if (parsed.values.json === true) {
    process.stdout.write(`${JSON.stringify(findings, null, 2)}\n`);
  } else {
    for (const f of findings)
      process.stdout.write(`${f.file}:${f.line}: ${f.message} [${f.rule}]\n`);
    process.stdout.write(
      `workflows lint: ${workflows.length} files, ${findings.length} finding(s)\n`,
    );
  }
  return findings.length === 0 ? 0 : 1;
}

runCommand(() => main(process.argv.slice(2)));
