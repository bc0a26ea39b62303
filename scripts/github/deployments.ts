import type { DeployedStage } from "../../functions/contract.js";
import { ExpectedError } from "../../smoke/errors.js";
import type { GitHubRepository } from "./client.js";

/**
 * Deploys recorded as GitHub deployments of the build's own commit (not the dispatching branch's
 * HEAD, which is what a job's `environment:` records), tagged with the Main run that built it, so
 * the Deployments page shows what runs where and a promotion can ask where a build succeeded.
 */

/** Set on our deployments; those GitHub creates for a job's `environment:` carry "deploy". */
export const DEPLOYMENT_TASK = "deploy:build";

export const DEPLOYMENT_STATES = ["in_progress", "success", "failure", "error"] as const;
export type DeploymentState = (typeof DEPLOYMENT_STATES)[number];

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

export interface BuildDeployment {
  readonly sha: string;
  readonly runId: number;
  readonly stage: DeployedStage;
}

/**
 * The build's successful deployment in the stage, if any; otherwise how many deployments of
 * it were recorded there (none succeeded).
 */
export async function successfulDeployment(
  github: GitHubRepository,
  build: BuildDeployment,
): Promise<{ id: number; at: string } | { attempts: number }> {
  const { octokit, owner, repo } = github;
  const deployments = await octokit.paginate(octokit.rest.repos.listDeployments, {
    owner,
    repo,
    sha: build.sha,
    environment: build.stage,
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
    if (last?.state === "success") return { id: deployment.id, at: last.created_at };
  }
  return { attempts: ofThisBuild.length };
}
