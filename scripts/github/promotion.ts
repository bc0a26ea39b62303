import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DEPLOYED_STAGES, type DeployedStage, isDeployedStage } from "../../functions/contract.js";
import { ExpectedError } from "../../smoke/errors.js";
import { DEFAULT_BRANCH } from "../../stacks/pipeline.js";
import { parseCommandLine, runCommand, UsageError } from "../cli.js";
import { runIdOption } from "./build-record.js";
import { type GitHubRepository, githubClient, githubMessageOf, httpStatusOf } from "./client.js";
import { appendStepSummary, currentRunUrl, setStepOutputs } from "./step-files.js";

/**
 * Deployment records and the promotion gate. Every deploy of a build is recorded as a GitHub
 * deployment of the build's own commit (not the dispatching branch's HEAD, which a job's
 * `environment:` records), tagged with the Main run that built it; promotion to prod reads those
 * records to require that the same build (commit and run) succeeded in staging, and reads the
 * prod environment's protection rules to require a reviewer.
 */

/** Set on our deployments; those GitHub creates for a job's `environment:` carry "deploy". */
export const DEPLOYMENT_TASK = "deploy:build";
/** The workflow whose runs are builds. */
export const MAIN_WORKFLOW_PATH = ".github/workflows/main.yml";

/** What a promotion needs from a stage before it (only prod has a gate). */
const PREVIOUS_STAGE: Partial<Record<DeployedStage, DeployedStage>> = { prod: "staging" };
/** Stages whose GitHub environment must have required reviewers. */
const REVIEWED_STAGES: readonly DeployedStage[] = ["prod"];

export interface BuildRun {
  readonly runId: number;
  readonly sha: string;
  readonly url: string;
}

export interface Gate {
  readonly name: string;
  readonly passed: boolean;
  readonly detail: string;
}

export interface PromotionDecision {
  readonly stage: DeployedStage;
  readonly build: BuildRun;
  readonly gates: readonly Gate[];
  readonly allowed: boolean;
  readonly overrideReason: string | null;
}

interface DeploymentPayload {
  readonly buildRunId?: string;
}

function payloadOf(payload: unknown): DeploymentPayload {
  if (typeof payload === "string") {
    try {
      return payloadOf(JSON.parse(payload));
    } catch {
      return {};
    }
  }
  return typeof payload === "object" && payload !== null ? (payload as DeploymentPayload) : {};
}

/** The Main run of a push to main that succeeded: anything else is never promoted. */
export async function readBuildRun(github: GitHubRepository, runId: number): Promise<BuildRun> {
  const { octokit, owner, repo } = github;
  let run: Awaited<ReturnType<typeof octokit.rest.actions.getWorkflowRun>>["data"];
  try {
    run = (await octokit.rest.actions.getWorkflowRun({ owner, repo, run_id: runId })).data;
  } catch (error) {
    if (httpStatusOf(error) === 404) {
      throw new ExpectedError(
        `Run ${runId} does not exist in ${owner}/${repo}: take the id from a Main run's URL (…/actions/runs/<id>).`,
      );
    }
    throw error;
  }
  const path = run.path.replace(/@.*$/, "");
  if (path !== MAIN_WORKFLOW_PATH || run.head_branch !== DEFAULT_BRANCH || run.event !== "push") {
    throw new ExpectedError(
      `Run ${runId} is ${run.path} on ${run.head_branch ?? "no branch"} (${run.event}), not a Main run of a push to ${DEFAULT_BRANCH}: promote only builds of ${DEFAULT_BRANCH}.`,
    );
  }
  if (run.conclusion !== "success") {
    throw new ExpectedError(
      `Run ${runId} concluded "${run.conclusion ?? run.status ?? "unknown"}": promote only a build whose dev deploy and smoke test passed.`,
    );
  }
  return { runId, sha: run.head_sha, url: run.html_url };
}

/** Whether `build` has a successful deployment recorded in `stage`. */
export async function succeededIn(
  github: GitHubRepository,
  build: BuildRun,
  stage: DeployedStage,
): Promise<Gate> {
  const { octokit, owner, repo } = github;
  const name = `succeeded in ${stage}`;
  const deployments = await octokit.paginate(octokit.rest.repos.listDeployments, {
    owner,
    repo,
    sha: build.sha,
    environment: stage,
    task: DEPLOYMENT_TASK,
    per_page: 100,
  });
  const ofThisBuild = deployments.filter(
    (d) => payloadOf(d.payload).buildRunId === String(build.runId),
  );
  for (const deployment of ofThisBuild) {
    const statuses = await octokit.paginate(octokit.rest.repos.listDeploymentStatuses, {
      owner,
      repo,
      deployment_id: deployment.id,
      per_page: 100,
    });
    // Newest first; a later deploy of another build marks this one inactive, not unsuccessful.
    const last = statuses.find((s) => s.state !== "inactive");
    if (last?.state === "success") {
      return {
        name,
        passed: true,
        detail: `deployment ${deployment.id} of ${build.sha.slice(0, 12)} (run ${build.runId}) succeeded in ${stage} at ${last.created_at}`,
      };
    }
  }
  return {
    name,
    passed: false,
    detail:
      ofThisBuild.length === 0
        ? `no deployment of ${build.sha.slice(0, 12)} from run ${build.runId} is recorded in ${stage}: promote this run to ${stage} first`
        : `the ${ofThisBuild.length} deployment(s) of run ${build.runId} to ${stage} did not succeed: fix ${stage} first`,
  };
}

/** Whether the stage's GitHub environment makes a person approve each deploy. */
export async function hasRequiredReviewers(
  github: GitHubRepository,
  stage: DeployedStage,
): Promise<Gate> {
  const { octokit, owner, repo } = github;
  const name = `${stage} environment has required reviewers`;
  let environment: Awaited<ReturnType<typeof octokit.rest.repos.getEnvironment>>["data"];
  try {
    environment = (
      await octokit.rest.repos.getEnvironment({ owner, repo, environment_name: stage })
    ).data;
  } catch (error) {
    const status = httpStatusOf(error);
    if (status === 404) {
      return {
        name,
        passed: false,
        detail: `the repository has no environment "${stage}": create it (Settings → Environments) with required reviewers`,
      };
    }
    if (status === 403) {
      throw new ExpectedError(
        `GitHub refused to show the ${stage} environment (403: ${githubMessageOf(error)}): give the job \`actions: read\`.`,
      );
    }
    throw error;
  }
  const reviewers = (environment.protection_rules ?? []).flatMap((rule) =>
    rule.type === "required_reviewers" && "reviewers" in rule ? (rule.reviewers ?? []) : [],
  );
  return reviewers.length > 0
    ? {
        name,
        passed: true,
        detail: `${reviewers.length} reviewer(s) must approve a deploy to ${stage}`,
      }
    : {
        name,
        passed: false,
        detail: `the ${stage} environment has no required reviewers, so nobody approves what is applied to ${stage}: add reviewers in Settings → Environments → ${stage} (private repositories need GitHub Pro, Team or Enterprise for this)`,
      };
}

export async function decidePromotion(
  github: GitHubRepository,
  stage: DeployedStage,
  runId: number,
  overrideReason: string | null,
): Promise<PromotionDecision> {
  const build = await readBuildRun(github, runId);
  const gates: Gate[] = [];
  const previous = PREVIOUS_STAGE[stage];
  if (previous !== undefined) gates.push(await succeededIn(github, build, previous));
  if (REVIEWED_STAGES.includes(stage)) gates.push(await hasRequiredReviewers(github, stage));
  const allowed = gates.every((g) => g.passed) || overrideReason !== null;
  return { stage, build, gates, allowed, overrideReason };
}

export function decisionMarkdown(decision: PromotionDecision, actor: string | undefined): string {
  const { stage, build, gates } = decision;
  const failed = gates.filter((g) => !g.passed);
  const lines = [
    `### Promotion of run [${build.runId}](${build.url}) (\`${build.sha}\`) to \`${stage}\``,
    "",
  ];
  if (failed.length > 0 && decision.overrideReason !== null) {
    lines.push(
      "> [!CAUTION]",
      `> **Gates overridden by ${actor ?? "the person who started this run"}:** ${failed.map((g) => g.name).join("; ")}.`,
      `> Reason given: ${decision.overrideReason.replace(/\s+/g, " ")}`,
      "",
    );
  } else if (failed.length > 0) {
    lines.push("> [!CAUTION]", "> **Promotion refused.** Nothing was planned or deployed.", "");
  }
  lines.push("| gate | result | detail |", "|---|---|---|");
  for (const gate of gates) {
    lines.push(`| ${gate.name} | ${gate.passed ? "passed" : "**failed**"} | ${gate.detail} |`);
  }
  if (gates.length === 0)
    lines.push(`| a successful Main build | passed | ${stage} has no other gate |`);
  return `${lines.join("\n")}\n`;
}

export interface DeploymentRecord {
  readonly stage: DeployedStage;
  readonly sha: string;
  readonly runId: number;
  readonly state: DeploymentState;
  readonly environmentUrl?: string;
  readonly logUrl?: string;
  /** Adds the status to this deployment instead of creating one. */
  readonly deploymentId?: number;
}

export const DEPLOYMENT_STATES = ["in_progress", "success", "failure", "error"] as const;
export type DeploymentState = (typeof DEPLOYMENT_STATES)[number];

/** Records a deploy of the build's commit: a deployment (unless given) and a status on it. */
export async function recordDeployment(
  github: GitHubRepository,
  record: DeploymentRecord,
): Promise<{ deploymentId: number; statusId: number }> {
  const { octokit, owner, repo } = github;
  let deploymentId = record.deploymentId;
  if (deploymentId === undefined) {
    const created = await octokit.rest.repos.createDeployment({
      owner,
      repo,
      ref: record.sha,
      environment: record.stage,
      task: DEPLOYMENT_TASK,
      payload: { buildRunId: String(record.runId) },
      description: `Build of Main run ${record.runId}`,
      // A SHA, never merged; and the build's checks already passed in its own run.
      auto_merge: false,
      required_contexts: [],
      production_environment: record.stage === "prod",
    });
    if (!("id" in created.data)) {
      throw new ExpectedError(
        `GitHub did not create the deployment: ${created.data.message ?? ""}`,
      );
    }
    deploymentId = created.data.id;
  }
  const status = await octokit.rest.repos.createDeploymentStatus({
    owner,
    repo,
    deployment_id: deploymentId,
    state: record.state,
    ...(record.environmentUrl === undefined ? {} : { environment_url: record.environmentUrl }),
    ...(record.logUrl === undefined ? {} : { log_url: record.logUrl }),
    description: `${record.state.replace("_", " ")}: build of Main run ${record.runId}`,
  });
  return { deploymentId, statusId: status.data.id };
}

const USAGE = `
Usage: npm run promotion -- check --stage STAGE --run-id ID [--override-reason TEXT] [--json]
       npm run promotion -- record --stage STAGE --sha SHA --run-id ID --state STATE
                                   [--environment-url URL] [--deployment-id ID] [--json]

check:  may the build of Main run ID go to STAGE? The run must be a successful Main run of a push
        to ${DEFAULT_BRANCH} (never overridable). For prod, also: the same build (commit and run) has
        a successful deployment in staging, and the prod environment has required reviewers.
        A failed gate exits 1 unless --override-reason says why to go on; the reason and the
        overridden gates are written to the run's summary. Sets step outputs sha and run-id.
record: records a deploy of the build's commit SHA as a GitHub deployment in STAGE (task
        ${DEPLOYMENT_TASK}, payload {buildRunId}) with a status of STATE (${DEPLOYMENT_STATES.join(", ")});
        with --deployment-id, adds the status to that deployment. Sets step output deployment-id.

  --stage STAGE            ${DEPLOYED_STAGES.join(", ")}
  --run-id ID              the Main run that built what is promoted
  --override-reason TEXT   go on although a gate failed, and why (recorded in the summary)
  --sha SHA                the build's commit (check prints it)
  --state STATE            the deploy's outcome
  --environment-url URL    the stage's URL, shown on the Deployments page
  --json                   print the decision or the record as JSON

Environment: GITHUB_TOKEN (check needs \`actions: read\` and \`deployments: read\`; record needs
\`deployments: write\`), GITHUB_REPOSITORY, GITHUB_API_URL (default https://api.github.com).
`;

function stageOption(value: string | undefined): DeployedStage {
  if (value === undefined || !isDeployedStage(value)) {
    throw new UsageError(
      `--stage takes one of ${DEPLOYED_STAGES.join(", ")}${value === undefined ? "" : `, not "${value}"`}.\n${USAGE}`,
    );
  }
  return value;
}

export async function promotionCommand(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  out: (text: string) => void = (text) => process.stdout.write(text),
): Promise<number> {
  const parsed = parseCommandLine(argv, {
    usage: USAGE,
    allowPositionals: true,
    options: {
      stage: { type: "string" },
      "run-id": { type: "string" },
      "override-reason": { type: "string" },
      sha: { type: "string" },
      state: { type: "string" },
      "environment-url": { type: "string" },
      "deployment-id": { type: "string" },
      json: { type: "boolean" },
    },
  });
  if (parsed === undefined) return 0;
  const { values } = parsed;
  const [action, ...extra] = parsed.positionals;
  if (extra.length > 0) throw new UsageError(`Unexpected argument ${extra[0]}.\n${USAGE}`);
  if (action === "check") {
    const stage = stageOption(values.stage);
    const runId = runIdOption(values["run-id"], USAGE);
    const reason = values["override-reason"]?.trim() || null;
    const decision = await decidePromotion(githubClient(env), stage, runId, reason);
    await appendStepSummary(decisionMarkdown(decision, env.GITHUB_ACTOR), env);
    await setStepOutputs({ sha: decision.build.sha, "run-id": String(runId) }, env);
    const failed = decision.gates.filter((g) => !g.passed);
    if (values.json === true) out(`${JSON.stringify(decision)}\n`);
    else {
      for (const gate of decision.gates) {
        out(`${gate.passed ? "passed" : "FAILED"}  ${gate.name}: ${gate.detail}\n`);
      }
    }
    if (!decision.allowed) {
      throw new ExpectedError(
        `Promotion of run ${runId} to ${stage} refused:\n${failed.map((g) => `  ${g.name}: ${g.detail}`).join("\n")}\nFix that, or promote anyway with an override reason (it is recorded in the run's summary).`,
      );
    }
    if (failed.length > 0) {
      // GitHub shows ::warning lines as annotations on the run's page.
      out(
        `::warning title=Promotion gates overridden::${failed.map((g) => g.name).join("; ")} — reason: ${reason}\n`,
      );
    }
    if (values.json !== true) {
      out(`Promote ${decision.build.sha} (run ${runId}) to ${stage}.\n`);
    }
    return 0;
  }
  if (action === "record") {
    const stage = stageOption(values.stage);
    const runId = runIdOption(values["run-id"], USAGE);
    const sha = values.sha;
    if (sha === undefined || !/^[0-9a-f]{40}$/.test(sha)) {
      throw new UsageError(`--sha takes the build's full 40-digit commit SHA.\n${USAGE}`);
    }
    const state = values.state;
    if (!(DEPLOYMENT_STATES as readonly (string | undefined)[]).includes(state)) {
      throw new UsageError(`--state takes one of ${DEPLOYMENT_STATES.join(", ")}.\n${USAGE}`);
    }
    const deploymentId = values["deployment-id"];
    if (deploymentId !== undefined && !/^[1-9]\d*$/.test(deploymentId)) {
      throw new UsageError(`--deployment-id takes a number, not "${deploymentId}".\n${USAGE}`);
    }
    const recorded = await recordDeployment(githubClient(env), {
      stage,
      sha,
      runId,
      state: state as DeploymentState,
      environmentUrl: values["environment-url"],
      logUrl: currentRunUrl(env),
      deploymentId: deploymentId === undefined ? undefined : Number(deploymentId),
    });
    await setStepOutputs({ "deployment-id": String(recorded.deploymentId) }, env);
    out(
      values.json === true
        ? `${JSON.stringify({ stage, sha, runId, state, ...recorded })}\n`
        : `Recorded ${state} of ${sha.slice(0, 12)} (run ${runId}) in ${stage}: deployment ${recorded.deploymentId}.\n`,
    );
    return 0;
  }
  throw new UsageError(
    `Say check or record${action === undefined ? "" : `, not "${action}"`}.\n${USAGE}`,
  );
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runCommand(() => promotionCommand(process.argv.slice(2)));
}
