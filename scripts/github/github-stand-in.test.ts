import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type GitHubStandIn,
  jobLog,
  mainRun,
  paginate,
  startGitHubStandIn,
} from "./github-stand-in.js";

/** The stand-in answers as GitHub does where the commands depend on it: auth, pages, errors. */

let github: GitHubStandIn;
const BOT = { login: "github-actions[bot]", id: 41898282, type: "Bot" } as const;

beforeAll(async () => {
  github = await startGitHubStandIn({
    tokens: { writer: { user: BOT }, reader: { user: BOT, readOnly: true } },
  });
  for (let i = 0; i < 5; i += 1) {
    github.state.comments.push({
      id: i + 1,
      issue_number: 1,
      body: `c${i}`,
      user: BOT,
      created_at: "2026-11-30T00:00:00Z",
      updated_at: "2026-11-30T00:00:00Z",
    });
  }
});
afterAll(() => github.close());

function call(path: string, token: string, init: RequestInit = {}) {
  return fetch(`${github.url}${path}`, {
    ...init,
    headers: { authorization: `token ${token}`, "content-type": "application/json" },
  });
}

const comments = () => `/repos/${github.state.owner}/${github.state.repo}/issues/1/comments`;

describe("the GitHub stand-in", () => {
  it("pages lists with GitHub's Link header (next, last, first, prev)", async () => {
    const response = await call(`${comments()}?per_page=2&page=2`, "writer");
    const page = `${github.url}${comments()}`;
    expect(response.headers.get("link")).toBe(
      [
        `<${page}?per_page=2&page=3>; rel="next"`,
        `<${page}?per_page=2&page=3>; rel="last"`,
        `<${page}?per_page=2&page=1>; rel="first"`,
        `<${page}?per_page=2&page=1>; rel="prev"`,
      ].join(", "),
    );
    const body = (await response.json()) as Array<{ body: string; html_url: string }>;
    expect(body.map((c) => c.body)).toEqual(["c2", "c3"]);
    expect(body[0]?.html_url).toMatch(/\/pull\/1#issuecomment-3$/);
    const last = await call(`${comments()}?per_page=2&page=3`, "writer");
    expect(last.headers.get("link")).not.toContain('rel="next"');
  });

  it("answers 401 to an unknown token and 403 to a read-only token's write, with GitHub's bodies", async () => {
    const unknown = await call(comments(), "nope");
    expect(unknown.status).toBe(401);
    expect(await unknown.json()).toMatchObject({ message: "Bad credentials", status: "401" });
    const write = await call(comments(), "reader", {
      method: "POST",
      body: JSON.stringify({ body: "x" }),
    });
    expect(write.status).toBe(403);
    expect(await write.json()).toMatchObject({ message: "Resource not accessible by integration" });
    expect((await call(comments(), "reader")).status).toBe(200);
  });

  it("takes new routes over the same state, paginated the same way", async () => {
    github.route("GET", "/repos/:owner/:repo/environments", (request, state) =>
      paginate(request, state.environments, (page) => ({
        total_count: state.environments.length,
        environments: page,
      })),
    );
    github.state.environments.push({ name: "dev", protection_rules: [] });
    const response = await call(
      `/repos/${github.state.owner}/${github.state.repo}/environments`,
      "writer",
    );
    expect(await response.json()).toEqual({
      total_count: 1,
      environments: [{ name: "dev", protection_rules: [] }],
    });
    const elsewhere = await call("/repos/someone-else/websocket-stages/environments", "writer");
    expect(elsewhere.status).toBe(404);
  });

  it("serves a seeded Main run and its job's timestamped log, as GitHub does", async () => {
    github.state.runs.push(mainRun({ id: 31, head_sha: "2".repeat(40) }));
    github.state.jobs.push({
      id: 310,
      run_id: 31,
      name: "build",
      status: "completed",
      conclusion: "success",
      log: jobLog("first", "second"),
    });
    const repo = `/repos/${github.state.owner}/${github.state.repo}`;
    const run = await call(`${repo}/actions/runs/31`, "reader");
    expect(await run.json()).toMatchObject({
      id: 31,
      name: "Main",
      path: ".github/workflows/main.yml",
      head_branch: "main",
      head_sha: "2".repeat(40),
      event: "push",
      status: "completed",
      conclusion: "success",
    });
    const log = await call(`${repo}/actions/jobs/310/logs`, "reader");
    expect(await log.text()).toBe(
      "2026-11-30T12:00:00.0000000Z first\n2026-11-30T12:00:00.0000000Z second",
    );
  });
});
