import type { Octokit } from "@octokit/rest";
import { afterEach, describe, expect, it } from "vitest";
import { PIPELINE_VARIABLES } from "../../stacks/pipeline.js";
import {
  applyGitHubSettings,
  ghCommands,
  githubClient,
  githubSettings,
  type PipelineValues,
} from "./github-settings.js";
import { type GitHubStandIn, startGitHubStandIn } from "./github-stand-in.js";

const REPOSITORY = "acme/chat";
const role = (stage: string, kind: string) =>
  `arn:aws:iam::111122223333:role/websocket-stages-${stage}-${kind}`;
const VALUES: PipelineValues = {
  deployRoleArns: {
    dev: role("dev", "deploy"),
    staging: role("staging", "deploy"),
    prod: role("prod", "deploy"),
  },
  planRoleArns: {
    dev: role("dev", "plan"),
    staging: role("staging", "plan"),
    prod: role("prod", "plan"),
  },
  stateBucket: "websocket-stages-tfstate-111122223333-eu-west-1",
  stateRegion: "eu-west-1",
};

let standIn: GitHubStandIn | undefined;
afterEach(async () => {
  await standIn?.close();
  standIn = undefined;
});

async function octokitFor(): Promise<{ octokit: Octokit; server: GitHubStandIn }> {
  standIn = await startGitHubStandIn(REPOSITORY);
  return { octokit: githubClient("test-token", standIn.url), server: standIn };
}

describe("the GitHub settings", () => {
  it("are created on the first run and left alone on the second", async () => {
    const { octokit, server } = await octokitFor();
    const settings = githubSettings(VALUES);

    const first = await applyGitHubSettings(octokit, REPOSITORY, settings);
    const writesFirst = server.requests.filter((r) => r.method !== "GET");
    expect(first.length).toBeGreaterThan(0);
    expect(writesFirst.length).toBeGreaterThan(0);

    expect([...server.environments.keys()].sort()).toEqual(["dev", "prod", "staging"]);
    for (const [name, env] of server.environments) {
      expect(env.branchPolicy, name).toEqual({
        protected_branches: false,
        custom_branch_policies: true,
      });
      expect(
        env.branchPolicies.map((p) => [p.name, p.type]),
        name,
      ).toEqual([["main", "branch"]]);
      expect(env.variables.get(PIPELINE_VARIABLES.deployRole), name).toBe(role(name, "deploy"));
      expect(env.reviewers, name).toEqual(
        name === "prod" ? [{ type: "User", id: server.user.id }] : [],
      );
    }
    expect(
      JSON.parse(server.repositoryVariables.get(PIPELINE_VARIABLES.planRoles) ?? "{}"),
    ).toEqual(VALUES.planRoleArns);
    expect(server.repositoryVariables.get(PIPELINE_VARIABLES.stateBucket)).toBe(VALUES.stateBucket);

    const before = server.requests.length;
    const second = await applyGitHubSettings(octokit, REPOSITORY, settings);
    expect(second).toEqual([]);
    const secondRun = server.requests.slice(before);
    expect(secondRun.length).toBeGreaterThan(0);
    expect(secondRun.filter((r) => r.method !== "GET")).toEqual([]);
  });

  it("changes only what differs, and keeps reviewers someone already set", async () => {
    const { octokit, server } = await octokitFor();
    await applyGitHubSettings(octokit, REPOSITORY, githubSettings(VALUES));
    server.environments.get("prod")?.reviewers.splice(0, 1, { type: "Team", id: 42 });
    const moved = {
      ...VALUES,
      deployRoleArns: { ...VALUES.deployRoleArns, dev: role("dev", "deploy2") },
    };
    const changes = await applyGitHubSettings(octokit, REPOSITORY, githubSettings(moved));
    expect(changes).toEqual(["changed dev variable AWS_DEPLOY_ROLE_ARN"]);
    expect(server.environments.get("prod")?.reviewers).toEqual([{ type: "Team", id: 42 }]);
  });

  it("keeps plan roles of stages bootstrapped from another account", () => {
    const prodElsewhere = {
      ...VALUES,
      planRoleArns: { dev: role("dev", "plan") },
      deployRoleArns: { dev: role("dev", "deploy") },
    };
    const settings = githubSettings(prodElsewhere, {
      prod: "arn:aws:iam::999988887777:role/websocket-stages-prod-plan",
    });
    expect(settings.environments.map((e) => e.name)).toEqual(["dev"]);
    expect(settings.repositoryVariables[PIPELINE_VARIABLES.stateBucket]).toBe(VALUES.stateBucket);
    expect(JSON.parse(settings.repositoryVariables[PIPELINE_VARIABLES.planRoles] ?? "")).toEqual({
      dev: role("dev", "plan"),
      prod: "arn:aws:iam::999988887777:role/websocket-stages-prod-plan",
    });
  });

  it("keep a second account's state bucket on its own environments, not the repository's", () => {
    const prodAccount: PipelineValues = {
      deployRoleArns: { prod: "arn:aws:iam::999988887777:role/websocket-stages-prod-deploy" },
      planRoleArns: { prod: "arn:aws:iam::999988887777:role/websocket-stages-prod-plan" },
      stateBucket: "websocket-stages-tfstate-999988887777-us-east-1",
      stateRegion: "us-east-1",
    };
    const settings = githubSettings(prodAccount, { dev: role("dev", "plan") });
    expect(settings.repositoryVariables[PIPELINE_VARIABLES.stateBucket]).toBeUndefined();
    expect(settings.environments[0]?.variables).toMatchObject({
      [PIPELINE_VARIABLES.stateBucket]: prodAccount.stateBucket,
      [PIPELINE_VARIABLES.stateRegion]: "us-east-1",
    });
  });

  it("are also printed as gh commands, quoted for a shell", () => {
    const commands = ghCommands(REPOSITORY, githubSettings(VALUES));
    expect(commands).toContain(
      `gh variable set AWS_DEPLOY_ROLE_ARN --env prod --body ${role("prod", "deploy")} --repo acme/chat`,
    );
    expect(commands.find((c) => c.includes("AWS_PLAN_ROLES"))).toMatch(
      /--body '\{"dev":.*\}' --repo/,
    );
    expect(commands.filter((c) => c.includes("reviewers"))).toHaveLength(1);
    expect(
      commands.filter((c) => c.includes("deployment-branch-policies -f name=main")),
    ).toHaveLength(3);
  });
});
