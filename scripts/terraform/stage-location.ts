import { type DeployedStage, STATE_BACKEND_ENV, stackName } from "../../functions/contract.js";
import { ExpectedError } from "../../smoke/errors.js";
import { stateKey } from "../../stacks/backend.js";
import { PIPELINE_VARIABLES, type PipelineRoleKind } from "../../stacks/pipeline.js";
import type { StageSettings } from "../../stacks/stages.js";

/**
 * Where a deployed stage lives, from the project (stacks/stages.ts) and nowhere else: the
 * workflows ask for it (`npm run stage`) instead of keeping a region of their own, and a
 * configured value that disagrees with the project is an error, not a silent override.
 */
export interface StageLocation {
  readonly stage: DeployedStage;
  readonly region: string;
  /** Set only when stacks/stages.ts names the stage's account. */
  readonly account?: string;
  readonly stack: string;
  readonly stateKey: string;
  readonly stateBucket?: string;
  /** The state bucket's region: TF_STATE_REGION, else the stage's region. */
  readonly stateRegion: string;
  /** The pipeline role a job assumes for the stage, when one was asked for. */
  readonly role?: { readonly kind: PipelineRoleKind; readonly arn: string };
  /** Why the asked-for role is missing, when a missing role is allowed (the stage is skipped). */
  readonly skipped?: string;
}

/** The variable a workflow could set that would contradict the stage's region. */
export const REGION_VARIABLE = "AWS_REGION";

const ROLE_ARN = /^arn:aws[\w-]*:iam::(\d{12}):role\/[\w+=,.@/-]+$/;

/** The role a job of the given kind assumes for the stage, from the pipeline's variables. */
function configuredRole(
  stage: DeployedStage,
  kind: PipelineRoleKind,
  env: NodeJS.ProcessEnv,
): { arn?: string; variable: string } {
  if (kind === "deploy") {
    const variable = PIPELINE_VARIABLES.deployRole;
    return { arn: env[variable] || undefined, variable: `${variable} (environment ${stage})` };
  }
  const variable = PIPELINE_VARIABLES.planRoles;
  const json = env[variable];
  if (!json) return { variable: `${variable} (repository)` };
  let roles: unknown;
  try {
    roles = JSON.parse(json);
  } catch {
    throw new ExpectedError(
      `The repository variable ${variable} is not JSON: set it to {"dev": "arn:aws:iam::…:role/…", …}.`,
    );
  }
  const arn = (roles as Record<string, unknown> | null)?.[stage];
  return {
    arn: typeof arn === "string" && arn !== "" ? arn : undefined,
    variable: `${variable} (repository, key "${stage}")`,
  };
}

export function locateStage(
  stage: DeployedStage,
  settings: StageSettings,
  env: NodeJS.ProcessEnv,
  options: { readonly role?: PipelineRoleKind; readonly optionalRole?: boolean } = {},
): StageLocation {
  const configuredRegion = env[REGION_VARIABLE];
  if (configuredRegion && configuredRegion !== settings.region) {
    throw new ExpectedError(
      `${REGION_VARIABLE} is "${configuredRegion}" but stacks/stages.ts puts ${stage} in "${settings.region}": ` +
        `the stack deploys to "${settings.region}" whatever ${REGION_VARIABLE} says. Unset ${REGION_VARIABLE} ` +
        "(the workflows take the region from `npm run stage`), or change the stage's region in stacks/stages.ts.",
    );
  }
  const stateBucket = env[STATE_BACKEND_ENV.bucket] || undefined;
  const location = {
    stage,
    region: settings.region,
    ...(settings.account === undefined ? {} : { account: settings.account }),
    stack: stackName(stage),
    stateKey: stateKey(stage),
    ...(stateBucket === undefined ? {} : { stateBucket }),
    stateRegion: env[STATE_BACKEND_ENV.region] || settings.region,
  };
  if (options.role === undefined) return location;

  const { arn, variable } = configuredRole(stage, options.role, env);
  if (arn === undefined) {
    const reason = `no ${options.role} role for ${stage}: set ${variable}`;
    if (options.optionalRole === true) return { ...location, skipped: reason };
    throw new ExpectedError(
      `Cannot ${options.role} ${stage}: ${reason} (see README, Deploying with GitHub Actions).`,
    );
  }
  const account = ROLE_ARN.exec(arn)?.[1];
  if (account === undefined) {
    throw new ExpectedError(
      `${variable} holds "${arn}", which is not an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>).`,
    );
  }
  if (settings.account !== undefined && account !== settings.account) {
    throw new ExpectedError(
      `${variable} names a role in account ${account} (${arn}) but stacks/stages.ts puts ${stage} in account ` +
        `${settings.account}: fix the variable, or the stage's account in stacks/stages.ts.`,
    );
  }
  // Without the state a plan shows everything as new and a deploy is forgotten with the runner.
  if (stateBucket === undefined) {
    throw new ExpectedError(
      `Cannot ${options.role} ${stage}: the repository variable ${STATE_BACKEND_ENV.bucket} is not set, so the ` +
        "state would be a file on this throw-away runner. Set it (see README, Deploying with GitHub Actions).",
    );
  }
  return { ...location, role: { kind: options.role, arn } };
}

/** The step outputs the workflows read (written to $GITHUB_OUTPUT by setStepOutputs). */
export function stepOutputs(location: StageLocation): Record<string, string> {
  return {
    region: location.region,
    account: location.account ?? "",
    stack: location.stack,
    "state-key": location.stateKey,
    "role-arn": location.role?.arn ?? "",
    configured: String(location.skipped === undefined),
  };
}
