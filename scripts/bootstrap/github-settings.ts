import { Octokit } from "@octokit/rest";
import { DEPLOYED_STAGES, type DeployedStage } from "../../functions/contract.js";
import { DEFAULT_BRANCH, PIPELINE_VARIABLES } from "../../stacks/pipeline.js";

/**
 * The GitHub side of the pipeline: one environment per deployed stage holding its deploy role,
 * deployments only from the default branch, required reviewers on prod, and the repository
 * variables the plan jobs (which run without an environment) read.
 */

/** What the bootstrap's outputs say the workflows need. */
export interface PipelineValues {
  readonly deployRoleArns: Partial<Record<DeployedStage, string>>;
  readonly planRoleArns: Partial<Record<DeployedStage, string>>;
  readonly stateBucket: string;
  readonly stateRegion: string;
}

/** Stages whose environment must have required reviewers before a deploy runs. */
export const REVIEWED_STAGES: readonly DeployedStage[] = ["prod"];

export interface EnvironmentSettings {
  readonly name: DeployedStage;
  readonly variables: Readonly<Record<string, string>>;
  readonly requiredReviewers: boolean;
}

export interface GitHubSettings {
  readonly environments: readonly EnvironmentSettings[];
  readonly repositoryVariables: Readonly<Record<string, string>>;
}

/**
 * The settings for the stages bootstrapped so far. `existingPlanRoles` (the repository variable's
 * current value, when known) keeps plan roles of stages bootstrapped from another account.
 */
export function githubSettings(
  values: PipelineValues,
  existingPlanRoles: Partial<Record<DeployedStage, string>> = {},
): GitHubSettings {
  const stages = DEPLOYED_STAGES.filter((stage) => values.deployRoleArns[stage] !== undefined);
  // The repository-wide state bucket is the first stage's account's. Stages in another account
  // keep their own bucket in their environments (environment variables win over repository ones
  // for the jobs that name the environment).
  const ownsRepositoryState = stages.includes(DEPLOYED_STAGES[0]);
  const state = {
    [PIPELINE_VARIABLES.stateBucket]: values.stateBucket,
    [PIPELINE_VARIABLES.stateRegion]: values.stateRegion,
  };
  const environments = stages.map((stage) => ({
    name: stage,
    variables: {
      [PIPELINE_VARIABLES.deployRole]: values.deployRoleArns[stage] as string,
      ...(ownsRepositoryState ? {} : state),
    },
    requiredReviewers: REVIEWED_STAGES.includes(stage),
  }));
  const planRoles = { ...existingPlanRoles, ...values.planRoleArns };
  const ordered = Object.fromEntries(
    DEPLOYED_STAGES.filter((stage) => planRoles[stage] !== undefined).map((stage) => [
      stage,
      planRoles[stage],
    ]),
  );
  return {
    environments,
    repositoryVariables: {
      [PIPELINE_VARIABLES.planRoles]: JSON.stringify(ordered),
      ...(ownsRepositoryState ? state : {}),
    },
  };
}

function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}

/** The `gh` commands that make the settings by hand (what `--github` does itself). */
export function ghCommands(repository: string, settings: GitHubSettings): string[] {
  const repo = `--repo ${repository}`;
  const lines: string[] = [];
  for (const env of settings.environments) {
    const path = `repos/${repository}/environments/${env.name}`;
    const reviewers = env.requiredReviewers
      ? ` -F 'reviewers[][type]=User' -F "reviewers[][id]=$(gh api user -q .id)"`
      : "";
    lines.push(
      `gh api -X PUT ${path} -F 'deployment_branch_policy[protected_branches]=false' -F 'deployment_branch_policy[custom_branch_policies]=true'${reviewers}`,
      `gh api -X POST ${path}/deployment-branch-policies -f name=${DEFAULT_BRANCH} -f type=branch`,
    );
    for (const [name, value] of Object.entries(env.variables)) {
      lines.push(`gh variable set ${name} --env ${env.name} --body ${shellQuote(value)} ${repo}`);
    }
  }
  for (const [name, value] of Object.entries(settings.repositoryVariables)) {
    lines.push(`gh variable set ${name} --body ${shellQuote(value)} ${repo}`);
  }
  return lines;
}

/**
 * A REST client for `baseUrl` (GITHUB_API_URL on GitHub Enterprise). Quiet: a 404 is how the
 * bootstrap learns a setting is missing, not an error to print.
 */
export function githubClient(token: string, baseUrl = "https://api.github.com"): Octokit {
  const quiet = () => undefined;
  return new Octokit({
    auth: token,
    baseUrl,
    log: { debug: quiet, info: quiet, warn: quiet, error: quiet },
  });
}

function isNotFound(error: unknown): boolean {
  return (error as { status?: number }).status === 404;
}

/** Creates or updates what differs, and says what it changed; changes nothing already right. */
export async function applyGitHubSettings(
  octokit: Octokit,
  repository: string,
  settings: GitHubSettings,
): Promise<string[]> {
  const [owner = "", repo = ""] = repository.split("/");
  const changes: string[] = [];
  let reviewerId: number | undefined;
  for (const env of settings.environments) {
    const environment_name = env.name;
    let current:
      | Awaited<ReturnType<Octokit["rest"]["repos"]["getEnvironment"]>>["data"]
      | undefined;
    try {
      current = (await octokit.rest.repos.getEnvironment({ owner, repo, environment_name })).data;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    const reviewers = (current?.protection_rules ?? []).flatMap((rule) =>
      "reviewers" in rule && Array.isArray(rule.reviewers) ? rule.reviewers : [],
    );
    const branchPolicy = current?.deployment_branch_policy;
    const branchesLimited =
      branchPolicy?.custom_branch_policies === true && branchPolicy.protected_branches === false;
    const needsReviewer = env.requiredReviewers && reviewers.length === 0;
    if (current === undefined || !branchesLimited || needsReviewer) {
      if (needsReviewer && reviewerId === undefined) {
        reviewerId = (await octokit.rest.users.getAuthenticated()).data.id;
      }
      const keep = reviewers.flatMap((entry) =>
        entry.type !== undefined && entry.reviewer !== undefined && "id" in entry.reviewer
          ? [{ type: entry.type, id: entry.reviewer.id }]
          : [],
      );
      const base = {
        owner,
        repo,
        environment_name,
        deployment_branch_policy: { protected_branches: false, custom_branch_policies: true },
      };
      const reviewersToSet = needsReviewer
        ? [{ type: "User" as const, id: reviewerId as number }]
        : keep;
      try {
        await octokit.rest.repos.createOrUpdateEnvironment(
          reviewersToSet.length > 0 ? { ...base, reviewers: reviewersToSet } : base,
        );
      } catch (error) {
        // Private repositories on plans without required reviewers get a 422 for the rule.
        if ((error as { status?: number }).status !== 422 || !needsReviewer) throw error;
        await octokit.rest.repos.createOrUpdateEnvironment(base);
        changes.push(
          `GitHub refused required reviewers on ${env.name} (${(error as Error).message}): ${env.name} deploys without approval until you add them`,
        );
      }
      changes.push(
        current === undefined
          ? `created environment ${env.name}${needsReviewer ? " with you as required reviewer" : ""}, deployments from selected branches only`
          : `updated environment ${env.name}: ${[!branchesLimited ? "deployments from selected branches only" : "", needsReviewer ? "you as required reviewer" : ""].filter(Boolean).join(", ")}`,
      );
    }
    const policies = (
      await octokit.rest.repos.listDeploymentBranchPolicies({ owner, repo, environment_name })
    ).data.branch_policies;
    if (!policies.some((policy) => policy.name === DEFAULT_BRANCH && policy.type !== "tag")) {
      await octokit.rest.repos.createDeploymentBranchPolicy({
        owner,
        repo,
        environment_name,
        name: DEFAULT_BRANCH,
        type: "branch",
      });
      changes.push(`environment ${env.name}: deployments allowed from branch ${DEFAULT_BRANCH}`);
    }
    for (const [name, value] of Object.entries(env.variables)) {
      let existing: string | undefined;
      try {
        existing = (
          await octokit.rest.actions.getEnvironmentVariable({ owner, repo, environment_name, name })
        ).data.value;
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
      if (existing === value) continue;
      if (existing === undefined) {
        await octokit.rest.actions.createEnvironmentVariable({
          owner,
          repo,
          environment_name,
          name,
          value,
        });
      } else {
        await octokit.rest.actions.updateEnvironmentVariable({
          owner,
          repo,
          environment_name,
          name,
          value,
        });
      }
      changes.push(`${existing === undefined ? "set" : "changed"} ${env.name} variable ${name}`);
    }
  }
  for (const [name, value] of Object.entries(settings.repositoryVariables)) {
    const existing = await repositoryVariable(octokit, repository, name);
    if (existing === value) continue;
    if (existing === undefined) {
      await octokit.rest.actions.createRepoVariable({ owner, repo, name, value });
    } else {
      await octokit.rest.actions.updateRepoVariable({ owner, repo, name, value });
    }
    changes.push(`${existing === undefined ? "set" : "changed"} repository variable ${name}`);
  }
  return changes;
}

/** A repository variable's value, or undefined when it is not set. */
export async function repositoryVariable(
  octokit: Octokit,
  repository: string,
  name: string,
): Promise<string | undefined> {
  const [owner = "", repo = ""] = repository.split("/");
  try {
    return (await octokit.rest.actions.getRepoVariable({ owner, repo, name })).data.value;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}
