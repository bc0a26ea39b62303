import { spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { createInterface } from "node:readline/promises";
import {
  DEPLOYED_STAGES,
  type DeployedStage,
  STATE_DIR,
  SYNTH_DIR,
} from "../../functions/contract.js";
import { ExpectedError } from "../../smoke/errors.js";
import { accountsOfStages } from "../../stacks/bootstrap/accounts.js";
import { bootstrapApp } from "../../stacks/bootstrap/app.js";
import { bootstrapStackName } from "../../stacks/bootstrap/bootstrap-stack.js";
import { isRepository, PIPELINE_VARIABLES } from "../../stacks/pipeline.js";
import { parseCommandLine, runCommand, UsageError } from "../cli.js";
import { formatPlanSummary, summarizePlan } from "../terraform/plan-summary.js";
import { terraformEnvironment } from "../terraform/provider-mirror.js";
import { requireTerraform, type TerraformRun, terraform } from "../terraform/terraform.js";
import { callerAccount, checkOidcProvider, githubOidcProvider } from "./aws-account.js";
import {
  applyGitHubSettings,
  type GitHubSettings,
  ghCommands,
  githubClient,
  githubSettings,
  type PipelineValues,
  repositoryVariable,
} from "./github-settings.js";

const USAGE = `
Usage: npm run bootstrap -- --repo OWNER/NAME [--plan-only] [--github] [--yes]
                            [--oidc-provider-arn ARN] [--noncurrent-days N]

One-time setup of the AWS account your credentials belong to, for the stages living in it
(stacks/stages.ts): the Terraform state bucket, GitHub's OIDC provider, and per stage a deploy role
and a read-only plan role that only OWNER/NAME's workflows can assume. Plans, shows the summary,
asks before applying (state kept in ${STATE_DIR}/bootstrap/), then prints the GitHub settings the
workflows need and the \`gh\` commands that make them. Run it again any time: it changes only
what differs.

  --repo OWNER/NAME         the GitHub repository whose workflows deploy (required)
  --plan-only               plan and show the summary; change nothing
  --github                  also make the GitHub settings (environments dev, staging, prod with
                            their variables, deployments from main only, you as required reviewer
                            on prod; repository variables) through the API, with \`gh auth token\`
                            (or GH_TOKEN); says what it changed
  --yes                     apply without asking (for scripts)
  --oidc-provider-arn ARN   use the account's existing GitHub OIDC provider instead of creating one
  --noncurrent-days N       keep replaced state versions N days (default 90)
`;

function say(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** A GitHub token from the environment or the gh CLI's login. */
async function githubToken(): Promise<string> {
  const fromEnv = process.env.GH_TOKEN || process.env.GITHUB_TOKEN;
  if (fromEnv) return fromEnv;
  const token = await new Promise<string | undefined>((resolveToken) => {
    const child = spawn("gh", ["auth", "token"], { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
    });
    child.on("error", () => resolveToken(undefined));
    child.on("close", (code) => resolveToken(code === 0 ? out.trim() : undefined));
  });
  if (!token) {
    throw new ExpectedError(
      "--github needs GitHub's CLI logged in: run `gh auth login` (or set GH_TOKEN), or leave out --github and run the printed `gh` commands yourself.",
    );
  }
  return token;
}

async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) {
    throw new ExpectedError(
      "Not applying: no terminal to confirm on. Review the plan above and run again with --yes.",
    );
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

function printSettings(repository: string, settings: GitHubSettings): void {
  const lines = ["", `GitHub settings for ${repository}:`];
  for (const env of settings.environments) {
    lines.push(
      `  environment ${env.name}: deployments from main only${env.requiredReviewers ? ", required reviewers" : ""}`,
    );
    for (const [name, value] of Object.entries(env.variables)) lines.push(`    ${name} = ${value}`);
  }
  lines.push("  repository variables:");
  for (const [name, value] of Object.entries(settings.repositoryVariables)) {
    lines.push(`    ${name} = ${value}`);
  }
  lines.push("", "To make them by hand (or run again with --github):", "");
  lines.push(...ghCommands(repository, settings).map((line) => `  ${line}`));
  process.stdout.write(`${lines.join("\n")}\n`);
}

function numberOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) {
    throw new UsageError(`--${name} takes a whole number of days (1 or more), not "${value}".`);
  }
  return parsed;
}

runCommand(async () => {
  const parsed = parseCommandLine(process.argv.slice(2), {
    usage: USAGE,
    options: {
      repo: { type: "string" },
      "plan-only": { type: "boolean" },
      github: { type: "boolean" },
      yes: { type: "boolean" },
      "oidc-provider-arn": { type: "string" },
      "noncurrent-days": { type: "string" },
    },
  });
  if (parsed === undefined) return 0;
  const repository = parsed.values.repo;
  if (repository === undefined) {
    throw new UsageError(`Name the repository that deploys: --repo OWNER/NAME.\n\n${USAGE.trim()}`);
  }
  if (!isRepository(repository)) {
    throw new UsageError(
      `--repo ${JSON.stringify(repository)} is not a GitHub repository: use OWNER/NAME, e.g. --repo octocat/chat.`,
    );
  }
  const noncurrentDays = numberOption(parsed.values["noncurrent-days"], "noncurrent-days");
  const referenced = parsed.values["oidc-provider-arn"];
  const planOnly = parsed.values["plan-only"] === true;
  const token = parsed.values.github === true && !planOnly ? await githubToken() : undefined;

  const account = await callerAccount();
  const accounts = accountsOfStages(account);
  const target = accounts.find((entry) => entry.account === account);
  if (target === undefined) {
    throw new ExpectedError(
      `No stage lives in account ${account} (stacks/stages.ts puts them in ${accounts.map((a) => a.account).join(", ")}): run with credentials of one of those.`,
    );
  }
  say(
    `AWS account ${account}: bootstrapping ${target.stages.join(", ")} (state bucket in ${target.region}).`,
  );
  const stateFile = resolve(STATE_DIR, "bootstrap", `${account}.tfstate`);
  await checkOidcProvider({ referenced, existing: await githubOidcProvider(), stateFile });
  await requireTerraform();

  const outdir = resolve(SYNTH_DIR);
  bootstrapApp({
    outdir,
    repository,
    target,
    ...(referenced === undefined ? {} : { oidcProviderArn: referenced }),
    ...(noncurrentDays === undefined ? {} : { noncurrentVersionDays: noncurrentDays }),
  }).app.synth();
  const dir = join(outdir, "stacks", bootstrapStackName(account));
  await mkdir(resolve(STATE_DIR, "bootstrap"), { recursive: true });
  const { env } = await terraformEnvironment(join(outdir, ".terraform-cli"));
  const run: TerraformRun = { dir, env, output: "capture" };
  say("terraform init…");
  await terraform(["init", "-input=false"], run, "terraform init");
  say("terraform plan…");
  await terraform(
    ["plan", "-input=false", "-out=bootstrap.tfplan"],
    { ...run, output: "stream" },
    "terraform plan",
  );
  const summary = summarizePlan(
    (await terraform(["show", "-json", "bootstrap.tfplan"], run, "terraform show")).stdout,
  );
  say(`\nBootstrap plan for account ${account}: ${formatPlanSummary(summary)}`);
  if (planOnly) {
    say("--plan-only: nothing applied.");
    return 0;
  }
  if (summary.changes.length > 0) {
    if (parsed.values.yes !== true && !(await confirm("Apply this plan?"))) {
      say("Not applied.");
      return 1;
    }
    await terraform(
      ["apply", "-input=false", "bootstrap.tfplan"],
      { ...run, output: "stream" },
      "terraform apply",
    );
    say(
      `Applied. The bootstrap's state is ${relative(process.cwd(), stateFile)} (README: moving it to the bucket).`,
    );
  }
  const outputs = JSON.parse(
    (await terraform(["output", "-json"], run, "terraform output")).stdout,
  ) as Record<string, { value: unknown }>;
  const values: PipelineValues = {
    deployRoleArns: outputs.deployRoleArns?.value as Partial<Record<DeployedStage, string>>,
    planRoleArns: outputs.planRoleArns?.value as Partial<Record<DeployedStage, string>>,
    stateBucket: outputs.stateBucket?.value as string,
    stateRegion: outputs.stateRegion?.value as string,
  };
  let existingPlanRoles: Partial<Record<DeployedStage, string>> = {};
  const octokit = token === undefined ? undefined : githubClient(token, process.env.GITHUB_API_URL);
  if (octokit !== undefined) {
    const current = await repositoryVariable(octokit, repository, PIPELINE_VARIABLES.planRoles);
    if (current !== undefined) {
      try {
        existingPlanRoles = JSON.parse(current) as Partial<Record<DeployedStage, string>>;
      } catch {
        say(`The repository variable ${PIPELINE_VARIABLES.planRoles} was not JSON: replacing it.`);
      }
    }
  }
  const settings = githubSettings(values, existingPlanRoles);
  printSettings(repository, settings);
  if (octokit !== undefined) {
    const changes = await applyGitHubSettings(octokit, repository, settings);
    say(
      changes.length === 0
        ? "\nGitHub: already as needed, nothing changed."
        : `\nGitHub: ${changes.length} change(s):\n${changes.map((c) => `  ${c}`).join("\n")}`,
    );
  }
  const elsewhere = accounts.filter((entry) => entry.account !== account);
  for (const other of elsewhere) {
    say(
      `\nStill to bootstrap: ${other.stages.join(", ")} in account ${other.account} — run this again with that account's credentials.`,
    );
  }
  const missing = DEPLOYED_STAGES.filter((stage) => values.deployRoleArns[stage] === undefined);
  if (missing.length === 0) say("\nDone: push to main to deploy dev.");
  return 0;
});
