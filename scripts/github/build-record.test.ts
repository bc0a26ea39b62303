import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { writeFakeBundle } from "../../stacks/synthesized-fixture.js";
import {
  BUILD_JOB_NAME,
  buildFiles,
  buildRecordCommand,
  fileRecordLines,
  manifestDigest,
  readBuildRecord,
  recordLine,
} from "./build-record.js";
import { githubClient } from "./client.js";
import { type GitHubStandIn, jobLog, mainRun, startGitHubStandIn } from "./github-stand-in.js";

let github: GitHubStandIn;
let dir: string;
let env: NodeJS.ProcessEnv;
const RUN = 4242;
const DIGEST = "a".repeat(64);
const OTHER = "b".repeat(64);

function seedRun(jobs: Array<{ name: string; log?: string; conclusion?: string }>) {
  github.state.runs.push(mainRun({ id: RUN }));
  jobs.forEach((job, i) => {
    github.state.jobs.push({
      id: RUN * 10 + i,
      run_id: RUN,
      name: job.name,
      status: "completed",
      conclusion: job.conclusion ?? "success",
      log: job.log,
    });
  });
}

beforeAll(async () => {
  github = await startGitHubStandIn({
    tokens: { reader: { user: { login: "github-actions[bot]", id: 1, type: "Bot" } } },
  });
});
afterAll(() => github.close());
beforeEach(async () => {
  github.state.runs.length = 0;
  github.state.jobs.length = 0;
  github.requests.length = 0;
  dir = await mkdtemp(join(tmpdir(), "build-record-"));
  env = {
    GITHUB_TOKEN: "reader",
    GITHUB_REPOSITORY: `${github.state.owner}/${github.state.repo}`,
    GITHUB_API_URL: github.url,
  };
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe("build-record print", () => {
  it("prints the manifest's digest as a log line and sets the step output", async () => {
    writeFakeBundle(join(dir, "dist"));
    env.GITHUB_OUTPUT = join(dir, "output");
    let out = "";
    const code = await buildRecordCommand(["print", "--dir", dir], env, (t) => {
      out += t;
    });
    const digest = await manifestDigest(dir);
    expect(code).toBe(0);
    const lines = out.trimEnd().split("\n");
    expect(lines.at(-1)).toBe(recordLine(digest));
    expect(lines.slice(0, -1)).toEqual(fileRecordLines(await buildFiles(dir)));
    expect(lines.slice(0, -1)).toContain(
      `websocket-stages build-record file ${digest} dist/manifest.json`,
    );
    expect(await readFile(join(dir, "output"), "utf8")).toBe(`manifest-sha256=${digest}\n`);
  });

  it("says to bundle first when there is no manifest", async () => {
    await expect(buildRecordCommand(["print", "--dir", dir], env, () => {})).rejects.toThrow(
      /manifest\.json is missing: run `npm run bundle` first/,
    );
  });
});

describe("build-record read", () => {
  it("reads the digest from the build job's log only, not from a later job's", async () => {
    seedRun([
      { name: BUILD_JOB_NAME, log: jobLog("npm run bundle", recordLine(DIGEST), "done") },
      // A later job printing another digest is ignored: it ran after the artifact existed.
      { name: "Deploy dev / Apply", log: jobLog(recordLine(OTHER)) },
    ]);
    const record = await readBuildRecord(githubClient(env), RUN);
    expect(record.digest).toBe(DIGEST);
    const logs = github.requests.filter((r) => r.path.includes("/logs"));
    expect(logs.map((r) => r.path)).toEqual([
      `/repos/${github.state.owner}/${github.state.repo}/actions/jobs/${RUN * 10}/logs`,
    ]);
  });

  it("finds the build job inside a reusable workflow and prints JSON", async () => {
    seedRun([{ name: `Build / ${BUILD_JOB_NAME}`, log: jobLog(recordLine(DIGEST)) }]);
    let out = "";
    await buildRecordCommand(["read", "--run-id", String(RUN), "--json"], env, (t) => {
      out += t;
    });
    expect(JSON.parse(out)).toEqual({ runId: RUN, manifestSha256: DIGEST, jobId: RUN * 10 });
  });

  it.each([
    [
      "no record in the log",
      [{ name: BUILD_JOB_NAME, log: jobLog("no marker") }],
      /recorded no manifest digest/,
    ],
    [
      "two different records",
      [{ name: BUILD_JOB_NAME, log: jobLog(recordLine(DIGEST), recordLine(OTHER)) }],
      /recorded 2 different manifest digests/,
    ],
    ["a deleted log", [{ name: BUILD_JOB_NAME }], /log of the build job of run 4242 is gone \(410/],
    [
      "no build job",
      [{ name: "Something else", log: "" }],
      /has no job named "Test, bundle, synth, lock providers" \(its jobs: "Something else"\)/,
    ],
    [
      "a failed build job",
      [{ name: BUILD_JOB_NAME, log: jobLog(recordLine(DIGEST)), conclusion: "failure" }],
      /concluded "failure"/,
    ],
  ])("refuses %s", async (_, jobs, message) => {
    seedRun(jobs);
    await expect(readBuildRecord(githubClient(env), RUN)).rejects.toThrow(message);
  });

  it("refuses a run that does not exist, and a run id that is not a number", async () => {
    await expect(readBuildRecord(githubClient(env), 1)).rejects.toThrow(/Run 1 does not exist/);
    await expect(
      buildRecordCommand(["read", "--run-id", "latest"], env, () => {}),
    ).rejects.toMatchObject({ exitCode: 2 });
  });
});
