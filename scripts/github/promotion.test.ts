import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DEPLOYMENT_TASK } from "./deployments.js";
import { type GitHubStandIn, mainRun, startGitHubStandIn } from "./github-stand-in.js";
import { promotionCommand } from "./promotion.js";

/** The promotion gate and deployment records against a local stand-in of GitHub's REST API. */

const BOT = { login: "github-actions[bot]", id: 41898282, type: "Bot" } as const;
const RUN = 501;
const SHA = "c0ffee".padEnd(40, "0");

let github: GitHubStandIn;
let dir: string;
let env: NodeJS.ProcessEnv;

async function promotion(...args: string[]) {
  let out = "";
  const code = await promotionCommand(args, env, (text) => {
    out += text;
  });
  return { code, out };
}

function check(stage: string, ...extra: string[]) {
  return promotion("check", "--stage", stage, "--run-id", String(RUN), ...extra);
}

function record(stage: string, state: string, runId = RUN) {
  return promotion(
    "record",
    "--stage",
    stage,
    "--sha",
    SHA,
    "--run-id",
    String(runId),
    "--state",
    state,
    "--environment-url",
    `wss://example.test/${stage}`,
  );
}

function summary() {
  return readFile(join(dir, "summary.md"), "utf8");
}

function addRun(overrides: Partial<GitHubStandIn["state"]["runs"][number]> = {}) {
  github.state.runs.push(mainRun({ id: RUN, head_sha: SHA, ...overrides }));
}

beforeAll(async () => {
  github = await startGitHubStandIn({ tokens: { token: { user: BOT } } });
});
afterAll(() => github.close());

beforeEach(async () => {
  const { state } = github;
  for (const list of [
    state.runs,
    state.deployments,
    state.deploymentStatuses,
    state.environments,
  ]) {
    list.length = 0;
  }
  github.requests.length = 0;
  dir = await mkdtemp(join(tmpdir(), "promotion-"));
  env = {
    GITHUB_TOKEN: "token",
    GITHUB_REPOSITORY: `${state.owner}/${state.repo}`,
    GITHUB_API_URL: github.url,
    GITHUB_STEP_SUMMARY: join(dir, "summary.md"),
    GITHUB_OUTPUT: join(dir, "output"),
    GITHUB_SERVER_URL: "https://github.com",
    GITHUB_RUN_ID: "900",
    GITHUB_ACTOR: "release-manager",
  };
  addRun();
  state.environments.push(
    { name: "staging", protection_rules: [] },
    {
      name: "prod",
      protection_rules: [
        { type: "required_reviewers", prevent_self_review: true, reviewers: [{ type: "User" }] },
      ],
    },
  );
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe("promotion record", () => {
  it("records a deployment of the build's commit, tagged with its run, with the deploy's status", async () => {
    const result = await record("staging", "success");
    expect(result.code).toBe(0);
    const [deployment] = github.state.deployments;
    expect(deployment).toMatchObject({
      sha: SHA,
      ref: SHA,
      environment: "staging",
      task: DEPLOYMENT_TASK,
      payload: { buildRunId: String(RUN) },
      production_environment: false,
    });
    expect(github.state.deploymentStatuses).toEqual([
      expect.objectContaining({
        deployment_id: deployment?.id,
        state: "success",
        environment_url: "wss://example.test/staging",
        log_url: `https://github.com/${github.state.owner}/${github.state.repo}/actions/runs/900`,
      }),
    ]);
    expect(await readFile(join(dir, "output"), "utf8")).toBe(`deployment-id=${deployment?.id}\n`);
  });

  it("adds a later status to the deployment it started", async () => {
    await record("prod", "in_progress");
    const id = github.state.deployments[0]?.id;
    await promotion(
      "record",
      "--stage",
      "prod",
      "--sha",
      SHA,
      "--run-id",
      String(RUN),
      "--state",
      "success",
      "--deployment-id",
      String(id),
    );
    expect(github.state.deployments).toHaveLength(1);
    expect(github.state.deploymentStatuses.map((s) => s.state)).toEqual(["in_progress", "success"]);
  });

  it("refuses a short SHA and an unknown state", async () => {
    await expect(
      promotion(
        "record",
        "--stage",
        "dev",
        "--sha",
        "c0ffee",
        "--run-id",
        "1",
        "--state",
        "success",
      ),
    ).rejects.toMatchObject({ exitCode: 2 });
    await expect(record("dev", "done")).rejects.toMatchObject({ exitCode: 2 });
  });
});

describe("promotion check", () => {
  it("lets a successful Main build go to staging and outputs its commit", async () => {
    const result = await check("staging");
    expect(result.code).toBe(0);
    expect(await readFile(join(dir, "output"), "utf8")).toBe(`sha=${SHA}\nrun-id=${RUN}\n`);
  });

  it("lets the build go to prod once the same build succeeded in staging", async () => {
    await expect(check("prod")).rejects.toThrow(
      /succeeded in staging: no deployment of c0ffee000000 from run 501 is recorded in staging/,
    );
    expect(await summary()).toContain("**Promotion refused.**");
    await record("staging", "success");
    const result = await check("prod", "--json");
    expect(JSON.parse(result.out)).toMatchObject({
      allowed: true,
      gates: [{ passed: true }, { passed: true, name: "prod environment has required reviewers" }],
    });
  });

  it("does not count the same commit built by another run, a failed deploy, or GitHub's own environment deployments", async () => {
    await record("staging", "success", RUN + 1);
    await record("staging", "failure");
    // What a job's `environment: staging` creates by itself: task "deploy", no payload.
    github.state.deployments.push({
      id: 1,
      sha: SHA,
      ref: "main",
      task: "deploy",
      payload: "",
      environment: "staging",
      description: null,
      production_environment: false,
      transient_environment: false,
      creator: BOT,
      created_at: "2026-11-30T00:00:00Z",
    });
    github.state.deploymentStatuses.push({
      id: 2,
      deployment_id: 1,
      state: "success",
      description: "",
      environment: "staging",
      environment_url: "",
      log_url: "",
      creator: BOT,
      created_at: "2026-11-30T00:00:00Z",
    });
    await expect(check("prod")).rejects.toThrow(
      /the 1 deployment\(s\) of run 501 to staging did not succeed/,
    );
  });

  it("still counts a staging success that a later deploy marked inactive", async () => {
    await record("staging", "success");
    const id = github.state.deployments[0]?.id as number;
    github.state.deploymentStatuses.push({
      id: 9999,
      deployment_id: id,
      state: "inactive",
      description: "",
      environment: "staging",
      environment_url: "",
      log_url: "",
      creator: BOT,
      created_at: "2026-12-01T00:00:00Z",
    });
    expect((await check("prod")).code).toBe(0);
  });

  it("refuses prod without required reviewers, saying why and how to fix it", async () => {
    await record("staging", "success");
    const prod = github.state.environments.find((e) => e.name === "prod");
    if (prod) prod.protection_rules = [{ type: "wait_timer", wait_timer: 5 }];
    await expect(check("prod")).rejects.toThrow(
      /prod environment has required reviewers: the prod environment has no required reviewers, so nobody approves/,
    );
    github.state.environments.length = 0;
    await expect(check("prod")).rejects.toThrow(/the repository has no environment "prod"/);
  });

  it("goes on with an override reason, and writes the reason and who gave it to the summary", async () => {
    const result = await check(
      "prod",
      "--override-reason",
      "hotfix for incident 12; staging is down",
    );
    expect(result.code).toBe(0);
    expect(result.out).toContain(
      "::warning title=Promotion gates overridden::succeeded in staging — reason: hotfix for incident 12; staging is down",
    );
    const text = await summary();
    expect(text).toContain("> **Gates overridden by release-manager:** succeeded in staging.");
    expect(text).toContain("> Reason given: hotfix for incident 12; staging is down");
  });

  it("never promotes a run that is not a successful Main build of main, override or not", async () => {
    github.state.runs.length = 0;
    addRun({ conclusion: "failure" });
    await expect(check("staging", "--override-reason", "x")).rejects.toThrow(
      /Run 501 concluded "failure"/,
    );
    github.state.runs.length = 0;
    addRun({ head_branch: "feature", event: "workflow_dispatch" });
    await expect(check("staging", "--override-reason", "x")).rejects.toThrow(
      /not a Main run of a push to main/,
    );
    await expect(promotion("check", "--stage", "staging", "--run-id", "77")).rejects.toThrow(
      /Run 77 does not exist/,
    );
  });
});
