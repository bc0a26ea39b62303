import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FUNCTION_NAMES } from "../../functions/contract.js";
import { writeFakeBundle } from "../../stacks/synthesized-fixture.js";
import {
  BUILD_JOB_NAME,
  buildFiles,
  fileRecordLines,
  manifestDigest,
  recordLine,
  sha256Hex,
} from "./build-record.js";
import { type GitHubStandIn, jobLog, mainRun, startGitHubStandIn } from "./github-stand-in.js";
import { verifyBuildCommand } from "./verify-build.js";

let dir: string;
let digest: string;
const fn = FUNCTION_NAMES[0] as string;

async function verify(args: string[], env: NodeJS.ProcessEnv = {}) {
  let out = "";
  const code = await verifyBuildCommand(["--dir", dir, ...args], env, (t) => {
    out += t;
  });
  return { code, out };
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "verify-build-"));
  writeFakeBundle(join(dir, "dist"));
  digest = await manifestDigest(dir);
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe("npm run verify-build", () => {
  it("passes an untouched build and says so in the run summary", async () => {
    const summary = join(dir, "summary.md");
    const result = await verify(["--expect-manifest-sha256", digest, "--json"], {
      GITHUB_STEP_SUMMARY: summary,
    });
    expect(result.code).toBe(0);
    const parsed = JSON.parse(result.out) as { ok: boolean; files: unknown[]; problems: unknown[] };
    expect(parsed).toMatchObject({ ok: true, problems: [] });
    expect(parsed.files).toHaveLength(FUNCTION_NAMES.length);
    expect(await readFile(summary, "utf8")).toContain(`as the build recorded`);
  });

  it("names a changed zip with its expected and actual digests", async () => {
    const zip = join(dir, "dist", `${fn}.zip`);
    const expected = sha256Hex(await readFile(zip));
    await writeFile(zip, "tampered");
    await expect(verify(["--expect-manifest-sha256", digest])).rejects.toThrow(
      `dist/${fn}.zip: expected sha256 ${expected} (dist/manifest.json), got ${sha256Hex("tampered")}`,
    );
  });

  it("catches a manifest rewritten to match changed zips, by its recorded digest", async () => {
    const manifestFile = join(dir, "dist", "manifest.json");
    const manifest = JSON.parse(await readFile(manifestFile, "utf8")) as {
      functions: Record<string, { sha256: string }>;
    };
    await writeFile(join(dir, "dist", `${fn}.zip`), "tampered");
    (manifest.functions[fn] as { sha256: string }).sha256 = sha256Hex("tampered");
    await writeFile(manifestFile, JSON.stringify(manifest));
    const error = await verify(["--expect-manifest-sha256", digest]).catch((e: unknown) => e);
    expect(String(error)).toContain(
      `dist/manifest.json: expected sha256 ${digest} (recorded by the build), got ${sha256Hex(JSON.stringify(manifest))}`,
    );
    expect(String(error)).not.toContain(`${fn}.zip`);
  });

  it("names a missing zip and a zip the manifest does not list", async () => {
    await rm(join(dir, "dist", `${fn}.zip`));
    await writeFile(join(dir, "dist", "extra.zip"), "x");
    const error = String(await verify(["--zips-only"]).catch((e: unknown) => e));
    expect(error).toContain(`dist/${fn}.zip: expected sha256`);
    expect(error).toContain("got no such file");
    expect(error).toContain(
      `dist/extra.zip: expected no such file (not in the manifest), got sha256 ${sha256Hex("x")}`,
    );
  });

  it("asks for exactly one thing to check the manifest against", async () => {
    await expect(verify([])).rejects.toMatchObject({ exitCode: 2 });
    await expect(verify(["--zips-only", "--expect-manifest-sha256", digest])).rejects.toMatchObject(
      {
        exitCode: 2,
      },
    );
    await expect(verify(["--expect-manifest-sha256", "abc"])).rejects.toMatchObject({
      exitCode: 2,
    });
  });
});

describe("npm run verify-build -- --run-id", () => {
  let github: GitHubStandIn;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    github = await startGitHubStandIn({
      tokens: { reader: { user: { login: "github-actions[bot]", id: 1, type: "Bot" } } },
    });
    env = {
      GITHUB_TOKEN: "reader",
      GITHUB_REPOSITORY: `${github.state.owner}/${github.state.repo}`,
      GITHUB_API_URL: github.url,
    };
  });
  afterAll(() => github.close());

  /** A Main run whose build job logged `lines`, as GitHub serves a job log. */
  function seedRun(id: number, lines: readonly string[]) {
    github.state.runs.push(mainRun({ id }));
    github.state.jobs.push({
      id: id * 10,
      run_id: id,
      name: BUILD_JOB_NAME,
      status: "completed",
      conclusion: "success",
      log: jobLog(...lines),
    });
  }

  it("checks the manifest against the digest the Main run's build job recorded", async () => {
    seedRun(7, [recordLine(digest)]);
    expect((await verify(["--run-id", "7"], env)).code).toBe(0);
    await writeFile(join(dir, "dist", "manifest.json"), '{"functions":{}}');
    await expect(verify(["--run-id", "7"], env)).rejects.toThrow(
      `dist/manifest.json: expected sha256 ${digest} (recorded by the build)`,
    );
  });

  it("checks every file the build recorded, synthesized stacks included", async () => {
    const stack = join(dir, "cdktf.out", "stacks", "websocket-stages-prod");
    await mkdir(join(stack, ".terraform", "providers"), { recursive: true });
    await writeFile(join(stack, "cdk.tf.json"), '{"resource":{}}');
    await writeFile(join(stack, ".terraform.lock.hcl"), "lock");
    seedRun(8, [...fileRecordLines(await buildFiles(dir)), recordLine(digest)]);
    // Providers terraform init downloads are not part of the record: their lock file is.
    await writeFile(join(stack, ".terraform", "providers", "binary"), "downloaded later");
    expect((await verify(["--run-id", "8"], env)).code).toBe(0);

    await writeFile(join(stack, "cdk.tf.json"), '{"resource":{"aws_iam_role":{}}}');
    await writeFile(join(stack, "extra.tf.json"), "{}");
    await rm(join(stack, ".terraform.lock.hcl"));
    const error = String(await verify(["--run-id", "8"], env).catch((e: unknown) => e));
    const prefix = "cdktf.out/stacks/websocket-stages-prod";
    expect(error).toContain(
      `${prefix}/cdk.tf.json: expected sha256 ${sha256Hex('{"resource":{}}')} (recorded by the build), got ${sha256Hex('{"resource":{"aws_iam_role":{}}}')}`,
    );
    expect(error).toContain(
      `${prefix}/extra.tf.json: expected no such file (not in the build's record), got sha256 ${sha256Hex("{}")}`,
    );
    expect(error).toContain(
      `${prefix}/.terraform.lock.hcl: expected sha256 ${sha256Hex("lock")} (recorded by the build), got no such file`,
    );
    expect(error).not.toContain("providers/binary");
  });
});
