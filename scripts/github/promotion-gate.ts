import type { DeployedStage } from "../../functions/contract.js";
import { ExpectedError } from "../../smoke/errors.js";
import { DEFAULT_BRANCH } from "../../stacks/pipeline.js";
import { type GitHubRepository, githubMessageOf, httpStatusOf } from "./client.js";
import { successfulDeployment } from "./deployments.js";

/**
 * May a build go to a stage? Only a successful Main run of a push to main is ever promoted; prod
 * also needs the same build (commit and run) to have succeeded in staging, and a GitHub
 * environment that makes a person approve the apply. Those two gates can be overridden with a
 * reason; the first never.
 */

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
  const name = `succeeded in ${stage}`;
  const found = await successfulDeployment(github, { sha: build.sha, runId: build.runId, stage });
  if ("id" in found) {
    return {
      name,
      passed: true,
      detail: `deployment ${found.id} of ${build.sha.slice(0, 12)} (run ${build.runId}) succeeded in ${stage} at ${found.at}`,
    };
  }
  return {
    name,
    passed: false,
    detail:
      found.attempts === 0
        ? `no deployment of ${build.sha.slice(0, 12)} from run ${build.runId} is recorded in ${stage}: promote this run to ${stage} first`
        : `the ${found.attempts} deployment(s) of run ${build.runId} to ${stage} did not succeed: fix ${stage} first`,
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
