import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { SavedPlanSummary } from "../terraform/plan-summary.js";
import { type GitHubStandIn, startGitHubStandIn } from "./github-stand-in.js";
import { ACTIONS_BOT, PLAN_COMMENT_MARKER, planCommentCommand } from "./plan-comment.js";

/** The plan comment against a local stand-in of GitHub's REST API. */

const BOT = { login: ACTIONS_BOT, id: 41898282, type: "Bot" } as const;
const PERSON = { login: "octocat", id: 1, type: "User" } as const;
const PR = 7;

let github: GitHubStandIn;
let dir: string;
let plansDir: string;
let env: NodeJS.ProcessEnv;

function summary(stage: SavedPlanSummary["stage"], deletes: number): SavedPlanSummary {
  const changes = Array.from({ length: deletes }, (_, i) => ({
    address: `aws_iam_role.r${i}`,
    kind: "delete" as const,
    attributes: [],
  }));
  return {
    stage,
    planFile: `plans/${stage}.tfplan`,
    hasChanges: deletes > 0,
    changes,
    counts: { create: 0, update: 0, replace: 0, delete: deletes },
    unchanged: 3,
  };
}

async function writePlan(stage: SavedPlanSummary["stage"], deletes: number, text: string) {
  await writeFile(join(plansDir, `${stage}.tfplan.json`), JSON.stringify(summary(stage, deletes)));
  await writeFile(join(plansDir, `${stage}.tfplan.txt`), text);
}

async function run(...args: string[]): Promise<{ code: number; out: string }> {
  let out = "";
  const code = await planCommentCommand(["--plans-dir", plansDir, ...args], env, (text) => {
    out += text;
  });
  return { code, out };
}

function comments() {
  return github.state.comments.filter((c) => c.issue_number === PR);
}

beforeAll(async () => {
  github = await startGitHubStandIn({
    tokens: {
      "write-token": { user: BOT },
      "fork-token": { user: BOT, readOnly: true },
    },
  });
});
afterAll(() => github.close());

beforeEach(async () => {
  github.state.comments.length = 0;
  github.requests.length = 0;
  dir = await mkdtemp(join(tmpdir(), "plan-comment-"));
  plansDir = join(dir, "plans");
  await mkdir(plansDir);
  env = {
    GITHUB_TOKEN: "write-token",
    GITHUB_REPOSITORY: `${github.state.owner}/${github.state.repo}`,
    GITHUB_API_URL: github.url,
    GITHUB_STEP_SUMMARY: join(dir, "summary.md"),
  };
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe("npm run plan-comment", () => {
  it("creates one comment with the marker and every stage's section", async () => {
    await writePlan("dev", 1, "  - resource x");
    const result = await run("--pr", String(PR), "--skipped", "prod=no plan role", "--json");
    expect(result.code).toBe(0);
    expect(JSON.parse(result.out)).toMatchObject({ action: "created" });
    const [comment, ...others] = comments();
    expect(others).toEqual([]);
    expect(comment?.body.startsWith(`${PLAN_COMMENT_MARKER}\n## Terraform plans\n\nPlans.`)).toBe(
      true,
    );
    expect(comment?.body).toContain("### `dev`: 0 to add, 0 to change, 0 to replace, 1 to destroy");
    expect(comment?.body).toContain("### `prod`: skipped\n\nNot planned: no plan role");
  });

  it("edits its own comment in place on the next run, never adding a second", async () => {
    await writePlan("dev", 1, "first");
    await run("--pr", String(PR));
    const [first] = comments();
    await writePlan("dev", 2, "second");
    const result = await run("--pr", String(PR), "--json");
    expect(JSON.parse(result.out)).toMatchObject({ action: "updated", id: first?.id });
    expect(comments()).toHaveLength(1);
    expect(comments()[0]?.body).toContain("2 to destroy");
    expect(github.requests.filter((r) => r.method === "PATCH")).toHaveLength(1);
  });

  it("leaves an identical comment alone", async () => {
    await writePlan("dev", 1, "same");
    await run("--pr", String(PR));
    const result = await run("--pr", String(PR), "--json");
    expect(JSON.parse(result.out)).toMatchObject({ action: "unchanged" });
    expect(github.requests.filter((r) => r.method !== "GET")).toHaveLength(1); // the first POST
  });

  it("finds its comment among many (on the second page) and ignores a person quoting the marker", async () => {
    const at = (i: number) => `2026-11-30T00:${String(i % 60).padStart(2, "0")}:00Z`;
    for (let i = 0; i < 150; i += 1) {
      const ours = i === 130;
      github.state.comments.push({
        id: 5000 + i,
        issue_number: PR,
        body: ours
          ? `${PLAN_COMMENT_MARKER}\nold plans`
          : i === 3
            ? `${PLAN_COMMENT_MARKER} quoted by a person`
            : `comment ${i}`,
        user: ours ? BOT : PERSON,
        created_at: at(i),
        updated_at: at(i),
      });
    }
    await writePlan("staging", 0, "No changes.");
    const result = await run("--pr", String(PR), "--json");
    expect(JSON.parse(result.out)).toMatchObject({ action: "updated", id: 5130 });
    expect(comments()).toHaveLength(150);
    expect(comments().find((c) => c.id === 5003)?.body).toBe(
      `${PLAN_COMMENT_MARKER} quoted by a person`,
    );
    const pages = github.requests.filter((r) => r.method === "GET" && r.path.includes("/comments"));
    expect(pages.map((r) => new URL(r.path, github.url).searchParams.get("page"))).toEqual([
      null,
      "2",
    ]);
  });

  it("keeps the oldest of two plan comments left by racing runs and removes the other", async () => {
    for (const id of [61, 62]) {
      github.state.comments.push({
        id,
        issue_number: PR,
        body: `${PLAN_COMMENT_MARKER}\nold`,
        user: BOT,
        created_at: "2026-11-30T00:00:00Z",
        updated_at: "2026-11-30T00:00:00Z",
      });
    }
    await writePlan("dev", 1, "x");
    const result = await run("--pr", String(PR), "--json");
    expect(JSON.parse(result.out)).toMatchObject({ action: "updated", id: 61 });
    expect(comments().map((c) => c.id)).toEqual([61]);
    expect(comments()[0]?.body).not.toContain("old");
  });

  it("on a fork's read-only token (403) succeeds and says in the summary why there is no comment", async () => {
    env.GITHUB_TOKEN = "fork-token";
    await writePlan("dev", 1, "x");
    const result = await run("--pr", String(PR));
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/^::warning title=Plan comment not written::GitHub answered 403/);
    expect(comments()).toEqual([]);
    expect(github.requests.at(-1)).toMatchObject({ method: "POST", status: 403 });
    const stepSummary = await readFile(join(dir, "summary.md"), "utf8");
    expect(stepSummary).toContain("The plan comment could not be written");
    expect(stepSummary).toContain("Resource not accessible by integration");
  });

  it("fails on other refusals, naming GitHub's answer (bad credentials)", async () => {
    env.GITHUB_TOKEN = "wrong";
    await writePlan("dev", 1, "x");
    await expect(run("--pr", String(PR))).rejects.toMatchObject({ status: 401 });
  });

  it("reads the pull request from the event and cuts a huge plan to GitHub's limit", async () => {
    const event = join(dir, "event.json");
    await writeFile(
      event,
      JSON.stringify({ number: PR, pull_request: { number: PR, head: { sha: "f".repeat(40) } } }),
    );
    env.GITHUB_EVENT_PATH = event;
    env.GITHUB_SERVER_URL = "https://github.com";
    env.GITHUB_RUN_ID = "99";
    await writePlan("prod", 1, "  ~ line that repeats\n".repeat(10_000));
    expect((await run()).code).toBe(0);
    const body = comments()[0]?.body ?? "";
    expect(body.length).toBeGreaterThan(60_000);
    expect(body.length).toBeLessThanOrEqual(65_536);
    expect(body).toContain(
      `Plans of ffffffffffff from [this run](https://github.com/${github.state.owner}/${github.state.repo}/actions/runs/99).`,
    );
    expect(body).toContain(
      `[summary of the run](https://github.com/${github.state.owner}/${github.state.repo}/actions/runs/99)`,
    );
  });

  it("says what is missing: no token, no pull request", async () => {
    await writePlan("dev", 1, "x");
    delete env.GITHUB_TOKEN;
    await expect(run("--pr", "7")).rejects.toThrow(/GITHUB_TOKEN is not set/);
    await expect(run()).rejects.toThrow(/No pull request to comment on: pass --pr N/);
  });
});
