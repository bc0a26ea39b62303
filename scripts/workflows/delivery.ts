import { DEFAULT_BRANCH, oidcSubjects, type PipelineRoleKind } from "../../stacks/pipeline.js";
import { calledWorkflowFile } from "./calls.js";
import {
  asRecord,
  type Finding,
  type Job,
  type Step,
  triggers,
  type Workflow,
} from "./workflow.js";

/**
 * The delivery pipeline's safety rules, checked on the workflow files themselves:
 * - an apply (`npm run deploy`) applies a saved plan (`--plan FILE`) that a job it needs made
 *   earlier in the same run (`npm run plan`, uploaded, downloaded by name from this run);
 * - approval sits on the apply: a job that plans names no environment;
 * - no plan takes the state lock (`--no-lock`): plan roles stay read-only;
 * - the region comes from the project (`npm run stage`), never from a variable;
 * - every job that assumes a role presents an OIDC subject the role trusts (stacks/pipeline.ts).
 */

/** Stands for the repository in OIDC subjects; the rules hold for any repository. */
const REPOSITORY = "owner/repository";
/** Stands for "the stage the job works on" when comparing subjects. */
const SOME_STAGE = "dev";

const ARTIFACT_ACTION = /^actions\/(upload|download)-artifact@/;
const AWS_CREDENTIALS = /^aws-actions\/configure-aws-credentials@/;
const STEP_OUTPUT = /^\$\{\{\s*steps\.([\w-]+)\.outputs\.([\w-]+)\s*\}\}$/;
// Reading a region variable, or setting one for the steps (which the AWS SDK and CLI would obey).
const REGION_VARIABLE =
  /\b(?:vars|secrets|env)\.AWS_(?:DEFAULT_)?REGION\b|^\s*AWS_(?:DEFAULT_)?REGION\s*:/;

/** Each `npm run <script> …` command line of a step, continuation lines joined. */
export function npmCommands(step: Step, script: string): string[] {
  if (step.run === undefined) return [];
  const pattern = new RegExp(
    `\\bnpm\\s+(?:run|run-script)(?:\\s+-[\\w-]+(?:=\\S+)?)*\\s+${script.replace(/[-]/g, "\\-")}(?=\\s|$)(.*)`,
  );
  return step.run
    .replace(/\s*\\\n\s*/g, " ")
    .split("\n")
    .flatMap((line) => {
      const match = pattern.exec(line.replace(/(^|\s)#.*$/, ""));
      return match === null ? [] : [match[1] ?? ""];
    });
}

const runsScript = (job: Job, script: string) =>
  job.steps.some((step) => npmCommands(step, script).length > 0);

/** The value after `--flag` in a command line, unquoted. */
function flagValue(args: string, flag: string): string | undefined {
  const match = new RegExp(`(?:^|\\s)${flag}(?:=|\\s+)("[^"]*"|'[^']*'|\\S+)`).exec(args);
  return match?.[1]?.replace(/^["']|["']$/g, "");
}

function needsOf(job: Job): string[] {
  const needs = job.raw.needs;
  if (typeof needs === "string") return [needs];
  return Array.isArray(needs) ? needs.map(String) : [];
}

/** The jobs a job waits for, directly or through others. */
function upstream(workflow: Workflow, job: Job): Job[] {
  const byId = new Map(workflow.jobs.map((j) => [j.id, j]));
  const seen = new Set<string>();
  const visit = (id: string) => {
    for (const need of needsOf(byId.get(id) as Job)) {
      if (!seen.has(need) && byId.has(need)) {
        seen.add(need);
        visit(need);
      }
    }
  };
  visit(job.id);
  return [...seen].map((id) => byId.get(id) as Job);
}

const environmentOf = (job: Job): string | undefined => {
  const environment = job.raw.environment;
  if (typeof environment === "string") return environment;
  const name = asRecord(environment).name;
  return typeof name === "string" ? name : undefined;
};

function artifactSteps(job: Job, kind: "upload" | "download"): Step[] {
  return job.steps.filter((step) => ARTIFACT_ACTION.exec(step.uses ?? "")?.[1] === kind);
}

const trimSlash = (path: string) => path.replace(/^\.\//, "").replace(/\/+$/, "");

function checkApplies(workflow: Workflow, job: Job): string[] {
  const problems: string[] = [];
  for (const step of job.steps) {
    for (const args of npmCommands(step, "deploy")) {
      const planFile = flagValue(args, "--plan");
      if (planFile === undefined) {
        problems.push(
          `job "${job.id}" deploys without --plan: it would apply a plan nobody reviewed. Apply the saved plan of a plan job (npm run deploy -- <stage> --plan FILE).`,
        );
        continue;
      }
      const planJobs = upstream(workflow, job).filter((j) => runsScript(j, "plan"));
      const uploaded = new Set(
        planJobs.flatMap((j) => artifactSteps(j, "upload").map((s) => String(s.with.name))),
      );
      const source = artifactSteps(job, "download").find(
        (download) =>
          !("run-id" in download.with) &&
          uploaded.has(String(download.with.name)) &&
          planFile.startsWith(`${trimSlash(String(download.with.path ?? "."))}/`),
      );
      if (source === undefined) {
        problems.push(
          `job "${job.id}" applies ${planFile}, which no artifact of this run brings: download (without run-id, into the folder of ${planFile}) the artifact a job it needs uploaded after \`npm run plan\` (plan jobs here: ${planJobs.map((j) => j.id).join(", ") || "none"}).`,
        );
      }
    }
  }
  return problems;
}

/** The `sub` claims GitHub gives jobs of this workflow that name no environment. */
function triggerSubjects(workflow: Workflow, all: readonly Workflow[]): string[] {
  const on = triggers(workflow);
  const subjects = new Set<string>();
  for (const [event, settings] of Object.entries(on)) {
    if (event === "pull_request") subjects.add(`repo:${REPOSITORY}:pull_request`);
    else if (event === "push") {
      const branches = asRecord(settings).branches;
      for (const branch of Array.isArray(branches) ? branches : ["*"]) {
        subjects.add(`repo:${REPOSITORY}:ref:refs/heads/${String(branch)}`);
      }
    } else if (event === "schedule" || event === "workflow_dispatch") {
      // Scheduled runs run on the default branch; dispatches are made from it.
      subjects.add(`repo:${REPOSITORY}:ref:refs/heads/${DEFAULT_BRANCH}`);
    } else if (event === "workflow_call") {
      for (const caller of all) {
        if (caller.jobs.some((j) => calledWorkflowFile(j.uses) === workflow.file)) {
          for (const subject of triggerSubjects(caller, all)) subjects.add(subject);
        }
      }
    } else subjects.add(`repo:${REPOSITORY}:(${event})`);
  }
  return [...subjects];
}

/** The step that said where the stage lives and which role to take (`npm run stage`). */
function stageStep(job: Job, expression: unknown): { step?: Step; output?: string } {
  const match = STEP_OUTPUT.exec(String(expression ?? "").trim());
  const step = job.steps.find((s) => s.id !== undefined && s.id === match?.[1]);
  return {
    ...(step === undefined || npmCommands(step, "stage").length === 0 ? {} : { step }),
    ...(match?.[2] === undefined ? {} : { output: match[2] }),
  };
}

function checkCredentials(workflow: Workflow, job: Job, all: readonly Workflow[]): string[] {
  const problems: string[] = [];
  for (const step of job.steps.filter((s) => AWS_CREDENTIALS.test(s.uses ?? ""))) {
    const region = stageStep(job, step.with["aws-region"]);
    if (region.step === undefined || region.output !== "region") {
      problems.push(
        `job "${job.id}" gives configure-aws-credentials the region ${JSON.stringify(step.with["aws-region"] ?? null)}: take it from the project, \${{ steps.<id>.outputs.region }} of an \`npm run stage -- <stage> --github-output\` step.`,
      );
    }
    const role = stageStep(job, step.with["role-to-assume"]);
    const [args = ""] = role.step === undefined ? [] : npmCommands(role.step, "stage");
    const kind = flagValue(args, "--role");
    if (role.output !== "role-arn" || (kind !== "plan" && kind !== "deploy")) {
      problems.push(
        `job "${job.id}" assumes the role ${JSON.stringify(step.with["role-to-assume"] ?? null)}: take it from \${{ steps.<id>.outputs.role-arn }} of an \`npm run stage -- <stage> --role plan|deploy --github-output\` step, so the role and its trust are known.`,
      );
      continue;
    }
    const environment = environmentOf(job);
    const stageExpression = asRecord(job.raw.env).STAGE;
    const presented =
      environment === undefined
        ? triggerSubjects(workflow, all)
        : [
            `repo:${REPOSITORY}:environment:${environment === stageExpression ? SOME_STAGE : environment}`,
          ];
    const trusted = oidcSubjects(REPOSITORY, SOME_STAGE, kind as PipelineRoleKind);
    const untrusted = presented.filter((subject) => !trusted.includes(subject));
    if (untrusted.length > 0) {
      problems.push(
        `job "${job.id}" assumes the ${kind} role presenting ${untrusted.join(", ")}, which the role does not trust (it trusts ${trusted.join(", ")}; stacks/pipeline.ts oidcSubjects). ${
          kind === "deploy"
            ? "Deploy roles are for jobs in the stage's environment (environment: the job's STAGE)."
            : "Plan roles are for jobs without an environment, on pull requests or the default branch."
        }`,
      );
    }
  }
  return problems;
}

export function checkDelivery(workflows: readonly Workflow[]): Finding[] {
  const findings: Finding[] = [];
  for (const workflow of workflows) {
    if (workflow.syntaxErrors.length > 0) continue;
    const at = (line: number, rule: string, message: string) =>
      findings.push({ file: workflow.file, line, rule, message });
    workflow.text.split("\n").forEach((line, index) => {
      if (REGION_VARIABLE.test(line.replace(/(^|\s)#.*$/, ""))) {
        at(
          index + 1,
          "region-from-project",
          "reads the region from a variable: the region is the project's (stacks/stages.ts), read with `npm run stage -- <stage> --github-output`.",
        );
      }
    });
    for (const job of workflow.jobs) {
      for (const step of job.steps) {
        for (const args of npmCommands(step, "plan")) {
          if (!/(?:^|\s)--no-lock(?:\s|$)/.test(args)) {
            at(
              step.runLine,
              "plan-lock",
              `job "${job.id}" plans without --no-lock: a plan must not take the state lock (plan roles only read; a cancelled run would leave a stale lock).`,
            );
          }
        }
      }
      if (runsScript(job, "plan") && environmentOf(job) !== undefined) {
        at(
          job.line,
          "plan-environment",
          `job "${job.id}" plans inside the environment "${environmentOf(job)}": approval would come before anyone saw the plan. Put the environment on the job that applies.`,
        );
      }
      for (const problem of checkApplies(workflow, job)) at(job.line, "apply-plan", problem);
      for (const problem of checkCredentials(workflow, job, workflows)) {
        at(job.line, "oidc", problem);
      }
    }
  }
  return findings;
}
