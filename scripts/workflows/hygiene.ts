import { ARTIFACTS } from "../../functions/contract.js";
import { calledWorkflowFile } from "./calls.js";
import { npmScriptsUsed } from "./npm-scripts.js";
import { asRecord, type Finding, type Job, type Step, type Workflow } from "./workflow.js";

type Level = "read" | "write";

/** A permission a job needs, and the step that needs it. */
interface Need {
  readonly level: Level;
  readonly reason: string;
}

/** The Node major the Lambda runtime runs, which CI builds and tests with too. */
export const NODE_MAJOR = /^nodejs(\d+)\.x$/.exec(ARTIFACTS.runtime)?.[1] ?? ARTIFACTS.runtime;

const PINNED_ACTION = /^[\w.-]+\/[\w.-]+(?:\/[^@\s]+)?@[0-9a-f]{40}$/;
const VERSION_COMMENT = /#\s*v\d+\.\d+\.\d+\s*$/;
// gh calls into the Actions API of this repository read runs and artifacts.
const GH_ACTIONS_API = /\bgh\s+(?:api\s+["']?repos\/\S*\/actions\/|run\s)/;

/** What the project's GitHub commands (scripts/github/) do with GITHUB_TOKEN. */
const SCRIPT_PERMISSIONS: ReadonlyArray<readonly [RegExp, string, Level]> = [
  [/^plan-comment\b/, "pull-requests", "write"],
  // The build's record is read from the Main run's build job log.
  [/^verify-build\b/, "actions", "read"],
  [/^promotion check\b/, "actions", "read"],
  [/^promotion check\b/, "deployments", "read"],
  [/^promotion record\b/, "deployments", "write"],
];

function actionName(uses: string | undefined): string | undefined {
  return uses?.split("@")[0];
}

/** What a step needs from GITHUB_TOKEN / the OIDC provider. */
function stepNeeds(step: Step): Array<[string, Need]> {
  const action = actionName(step.uses);
  const needs: Array<[string, Need]> = [];
  if (action === "actions/checkout") {
    needs.push(["contents", { level: "read", reason: "actions/checkout" }]);
  }
  if (action === "aws-actions/configure-aws-credentials") {
    needs.push([
      "id-token",
      { level: "write", reason: "the OIDC role of configure-aws-credentials" },
    ]);
  }
  if (action === "actions/download-artifact" && "run-id" in step.with) {
    needs.push(["actions", { level: "read", reason: "downloading another run's artifact" }]);
  }
  const lines = step.run?.split("\n") ?? [];
  for (const use of step.run === undefined ? [] : npmScriptsUsed(step.run)) {
    // The script's name and its first arguments, e.g. "promotion check": `npm run -s x -- a` → "x a".
    const line = lines[use.lineIndex] ?? "";
    const command = line.slice(line.indexOf(use.name)).replace(/\s--\s/, " ");
    for (const [pattern, scope, level] of SCRIPT_PERMISSIONS) {
      if (pattern.test(command)) needs.push([scope, { level, reason: `npm run ${use.name}` }]);
    }
  }
  if (step.run !== undefined && GH_ACTIONS_API.test(step.run)) {
    needs.push(["actions", { level: "read", reason: `gh reading workflow runs (${step.label})` }]);
  }
  return needs;
}

function grantedPermissions(job: Job): Map<string, string> {
  return new Map(Object.entries(asRecord(job.raw.permissions)).map(([k, v]) => [k, String(v)]));
}

/**
 * What a job needs: its steps' needs, or for a call of a local reusable workflow, what the called
 * jobs declare (GitHub refuses to start a called job granted more than its caller has).
 */
function jobNeeds(job: Job, byFile: ReadonlyMap<string, Workflow>): Map<string, Need> {
  const needs = new Map<string, Need>();
  const add = (scope: string, need: Need) => {
    const known = needs.get(scope);
    if (known === undefined || (known.level === "read" && need.level === "write")) {
      needs.set(scope, need);
    }
  };
  const target = calledWorkflowFile(job.uses);
  if (target !== undefined) {
    for (const calledJob of byFile.get(target)?.jobs ?? []) {
      for (const [scope, level] of grantedPermissions(calledJob)) {
        if (level === "read" || level === "write") {
          add(scope, { level, reason: `${target} job "${calledJob.id}"` });
        }
      }
    }
    return needs;
  }
  for (const step of job.steps) for (const [scope, need] of stepNeeds(step)) add(scope, need);
  return needs;
}

function checkPermissions(workflow: Workflow, byFile: ReadonlyMap<string, Workflow>): Finding[] {
  const findings: Finding[] = [];
  const top = workflow.root.permissions;
  if (!(typeof top === "object" && top !== null && Object.keys(top).length === 0)) {
    findings.push({
      file: workflow.file,
      line: 1,
      rule: "permissions",
      message:
        "the workflow must set `permissions: {}` at the top and grant each job what it needs.",
    });
  }
  for (const job of workflow.jobs) {
    const at = (message: string) =>
      findings.push({ file: workflow.file, line: job.line, rule: "permissions", message });
    if (typeof job.raw.permissions !== "object" || job.raw.permissions === null) {
      at(`job "${job.id}" must declare its permissions (\`permissions: {}\` when it needs none).`);
      continue;
    }
    const needs = jobNeeds(job, byFile);
    const granted = grantedPermissions(job);
    for (const [scope, level] of granted) {
      const need = needs.get(scope);
      if (need === undefined) {
        at(`job "${job.id}" grants ${scope}: ${level}, which none of its steps needs.`);
      } else if (level !== need.level) {
        at(
          `job "${job.id}" grants ${scope}: ${level}; it needs ${scope}: ${need.level} (${need.reason}).`,
        );
      }
    }
    for (const [scope, need] of needs) {
      if (!granted.has(scope)) {
        at(`job "${job.id}" needs ${scope}: ${need.level} (${need.reason}) but does not grant it.`);
      }
    }
  }
  return findings;
}

function checkJob(workflow: Workflow, job: Job): Finding[] {
  const findings: Finding[] = [];
  const push = (line: number, rule: string, message: string) =>
    findings.push({ file: workflow.file, line, rule, message });
  const lines = workflow.text.split("\n");
  const checkPin = (uses: string | undefined, line: number, where: string) => {
    if (uses === undefined || uses.startsWith("./")) return;
    if (uses.startsWith("docker://")) {
      if (!uses.includes("@sha256:"))
        push(line, "pin", `${where}: pin ${uses} by digest (@sha256:…).`);
      return;
    }
    if (!PINNED_ACTION.test(uses) || !VERSION_COMMENT.test(lines[line - 1] ?? "")) {
      push(
        line,
        "pin",
        `${where}: pin ${actionName(uses)} to a full commit SHA with its version in a comment (uses: ${actionName(uses)}@<40-hex sha> # vX.Y.Z).`,
      );
    }
  };

  checkPin(job.uses, job.usesLine, `job "${job.id}"`);
  // A job calling a reusable workflow may not set a timeout: the called jobs carry theirs.
  if (job.uses === undefined) {
    const timeout = job.raw["timeout-minutes"];
    if (typeof timeout !== "number" || timeout <= 0) {
      push(
        job.line,
        "timeout",
        `job "${job.id}" needs a \`timeout-minutes\` (the default is 360).`,
      );
    }
  }
  for (const step of job.steps) {
    const where = `job "${job.id}", step "${step.label}"`;
    checkPin(step.uses, step.usesLine, where);
    if (actionName(step.uses) === "actions/setup-node") {
      const version = String(step.with["node-version"] ?? "");
      if (version !== NODE_MAJOR) {
        push(
          step.usesLine,
          "node-version",
          `${where}: use node-version: ${NODE_MAJOR}, the Lambda runtime's (${ARTIFACTS.runtime}), not "${version}".`,
        );
      }
    }
  }
  return findings;
}

/**
 * The project's workflow rules: a header comment, `permissions: {}` with each job granted exactly
 * what its steps need, a timeout on every job, actions pinned by SHA, and the Lambda runtime's
 * Node version.
 */
export function checkHygiene(workflows: readonly Workflow[]): Finding[] {
  const byFile = new Map(workflows.map((workflow) => [workflow.file, workflow]));
  const findings: Finding[] = [];
  for (const workflow of workflows) {
    if (workflow.syntaxErrors.length > 0) continue;
    if (!workflow.text.startsWith("#")) {
      findings.push({
        file: workflow.file,
        line: 1,
        rule: "header",
        message:
          "start the workflow with a comment saying what it does and how it is run or called.",
      });
    }
    findings.push(...checkPermissions(workflow, byFile));
    for (const job of workflow.jobs) findings.push(...checkJob(workflow, job));
  }
  return findings;
}
