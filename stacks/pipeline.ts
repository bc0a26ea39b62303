import { type DeployedStage, PROJECT } from "../functions/contract.js";

/**
 * Who the GitHub Actions pipeline is to AWS: the OIDC provider its jobs federate through, the
 * roles they assume, and the exact `sub` claims each job presents. The bootstrap stack builds its
 * trust policies from this module and the workflow checks assert the workflows present exactly
 * these subjects, so the two cannot drift apart.
 */

/** The branch builds are made from, deploys run from and deployment branch policies allow. */
export const DEFAULT_BRANCH = "main";

/** GitHub's OIDC issuer; `aws-actions/configure-aws-credentials` asks it for this audience. */
export const GITHUB_OIDC = {
  host: "token.actions.githubusercontent.com",
  url: "https://token.actions.githubusercontent.com",
  audience: "sts.amazonaws.com",
} as const;

/**
 * deploy: applies a reviewed plan and smoke-tests the stage; assumed only by jobs that run in the
 * stage's GitHub environment (so only after its protection rules passed).
 * plan: reads the stage's resources and state; assumed by pull-request plans and by the plan jobs
 * of the deploy flow, which run without an environment.
 */
export const PIPELINE_ROLE_KINDS = ["deploy", "plan"] as const;
export type PipelineRoleKind = (typeof PIPELINE_ROLE_KINDS)[number];

/** IAM role name of a stage's pipeline role (the same in every account). */
export function pipelineRoleName(stage: DeployedStage, kind: PipelineRoleKind): string {
  return `${PROJECT}-${stage}-${kind}`;
}

/** `OWNER/NAME` as GitHub spells a repository; owner and name as GitHub allows them. */
const REPOSITORY_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/;

export function isRepository(value: string): boolean {
  return REPOSITORY_PATTERN.test(value) && !value.endsWith("/.") && !value.endsWith("/..");
}

/**
 * The `sub` claims a role trusts. GitHub builds them from the job: a job naming an environment
 * presents `repo:R:environment:E`; a pull-request job without one `repo:R:pull_request`; any other
 * job `repo:R:ref:refs/heads/BRANCH`. The plan jobs of the deploy flow run on pushes to (and
 * dispatches from) the default branch, without an environment.
 */
export function oidcSubjects(
  repository: string,
  stage: DeployedStage,
  kind: PipelineRoleKind,
): readonly string[] {
  if (!isRepository(repository)) {
    throw new Error(`${JSON.stringify(repository)} is not a GitHub repository: use OWNER/NAME.`);
  }
  if (kind === "deploy") return [`repo:${repository}:environment:${stage}`];
  return [`repo:${repository}:pull_request`, `repo:${repository}:ref:refs/heads/${DEFAULT_BRANCH}`];
}

/** GitHub Actions variables the workflows read; the bootstrap sets them. */
export const PIPELINE_VARIABLES = {
  /** Environment variable of each stage's environment: the deploy role's ARN. */
  deployRole: "AWS_DEPLOY_ROLE_ARN",
  /** Repository variable: JSON object stage → plan role ARN (plan jobs have no environment). */
  planRoles: "AWS_PLAN_ROLES",
  /** Repository variable: the Terraform state bucket. */
  stateBucket: "TF_STATE_BUCKET",
  /** Repository variable, optional: the state bucket's region when it differs from a stage's. */
  stateRegion: "TF_STATE_REGION",
} as const;
