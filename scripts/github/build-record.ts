import { createHash } from "node:crypto";
import type { Dirent } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join, relative, resolve, sep } from "node:path";
import { ARTIFACTS, SYNTH_DIR } from "../../functions/contract.js";
import { ExpectedError } from "../../smoke/errors.js";
import { actionArgument, runIfMain, UsageError } from "../cli.js";
import { type GitHubRepository, githubClient, githubMessageOf, httpStatusOf } from "./client.js";
import { stepCommand } from "./step-command.js";
import { appendStepSummary, setStepOutputs } from "./step-files.js";

/**
 * The build's record of itself: the sha256 of dist/manifest.json and of every file of the
 * artifact, written by the Main run's build job into that job's log, and read back by a later
 * promotion through the REST API.
 *
 * Why the job log: the record must survive anything that could swap the artifact. A later job of
 * the same run (or any workflow with `actions: write`) can re-upload an artifact named `build`
 * (`overwrite: true`), and anything with `statuses: write` / `checks: write` can post a newer
 * commit status or edit a check run, so a digest kept there could be replaced along with the
 * zips. A finished job's log cannot be edited by any token, only deleted (then promotion stops:
 * no record, no promotion). Only the build job's log is read: the line must come from the job
 * that built the bytes, before any other job ran.
 */

/** The build job's name in main.yml (its `name:`), whose log holds the record. */
export const BUILD_JOB_NAME = "Test, bundle, synth, lock providers";

/**
 * What the build artifact holds. Besides the manifest's digest, the record lists every file's
 * digest, so a changed synthesized stack (or lock file) is caught as surely as a changed zip.
 * `.terraform/` folders (providers downloaded by `terraform init`) are left out: they are
 * fetched again and checked against `.terraform.lock.hcl`, which is recorded.
 */
export const BUILD_ROOTS = [ARTIFACTS.dir, SYNTH_DIR] as const;

const MARKER = "websocket-stages build-record manifest-sha256=";
const RECORD_LINE = /websocket-stages build-record manifest-sha256=([0-9a-f]{64})\b/g;
const FILE_MARKER = "websocket-stages build-record file ";
const FILE_LINE = /websocket-stages build-record file ([0-9a-f]{64}) (\S[^\r\n]*)/g;

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export function manifestPath(dir: string): string {
  return join(dir, ARTIFACTS.dir, ARTIFACTS.manifestFile);
}

/** The sha256 of the build's dist/manifest.json, as bytes on disk. */
export async function manifestDigest(dir: string): Promise<string> {
  const path = manifestPath(dir);
  try {
    return sha256Hex(await readFile(path));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new ExpectedError(`${path} is missing: run \`npm run bundle\` first.`);
    }
    throw error;
  }
}

/** The line `print` writes into the job log. */
export function recordLine(digest: string): string {
  return `${MARKER}${digest}`;
}

export interface BuildFile {
  /** Relative to the build's folder, with `/` separators. */
  readonly path: string;
  readonly sha256: string;
}

/** Every file of the build (BUILD_ROOTS under `dir`, where they exist), sorted by path. */
export async function buildFiles(dir: string): Promise<BuildFile[]> {
  const files: BuildFile[] = [];
  for (const root of BUILD_ROOTS) {
    let entries: Dirent[];
    try {
      entries = await readdir(join(dir, root), { recursive: true, withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw error;
    }
    for (const entry of entries) {
      if (!entry.isFile()) continue;
      const full = join(entry.parentPath, entry.name);
      const path = relative(dir, full).split(sep).join("/");
      if (path.split("/").includes(".terraform")) continue;
      files.push({ path, sha256: sha256Hex(await readFile(full)) });
    }
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The lines `print` writes for each file. */
export function fileRecordLines(files: readonly BuildFile[]): string[] {
  return files.map((f) => `${FILE_MARKER}${f.sha256} ${f.path}`);
}

/** The files recorded in a job log; empty when the build recorded none. */
export function recordedFiles(log: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const match of log.matchAll(FILE_LINE)) {
    const path = (match[2] ?? "").trimEnd();
    const previous = files.get(path);
    if (previous !== undefined && previous !== match[1]) {
      throw new BuildRecordError(
        `The build's log records two digests for ${path}: refusing to guess.`,
      );
    }
    files.set(path, match[1] ?? "");
  }
  return files;
}

/** Every digest recorded in a job log (GitHub prefixes each line with a timestamp). */
export function recordedDigests(log: string): string[] {
  return [...new Set([...log.matchAll(RECORD_LINE)].map((m) => m[1] ?? ""))];
}

export class BuildRecordError extends ExpectedError {
  override readonly name = "BuildRecordError";
}

/** The manifest digest the build job of Main run `runId` recorded in its log. */
export async function readBuildRecord(
  github: GitHubRepository,
  runId: number,
  jobName: string = BUILD_JOB_NAME,
): Promise<{
  digest: string;
  files: ReadonlyMap<string, string>;
  jobId: number;
  jobUrl: string | null;
}> {
  const { octokit, owner, repo } = github;
  let jobs: Awaited<ReturnType<typeof octokit.rest.actions.listJobsForWorkflowRun>>["data"]["jobs"];
  try {
    jobs = await octokit.paginate(octokit.rest.actions.listJobsForWorkflowRun, {
      owner,
      repo,
      run_id: runId,
      per_page: 100,
    });
  } catch (error) {
    if (httpStatusOf(error) === 404) {
      throw new BuildRecordError(
        `Run ${runId} does not exist in ${owner}/${repo}: take the id from the Main run's URL (…/actions/runs/<id>).`,
      );
    }
    throw error;
  }
  // A job of a reusable workflow is named "caller / callee".
  const named = jobs.filter((j) => j.name === jobName || j.name.endsWith(` / ${jobName}`));
  if (named.length !== 1) {
    throw new BuildRecordError(
      `Run ${runId} has ${named.length === 0 ? "no" : named.length} job named "${jobName}" (its jobs: ${jobs.map((j) => `"${j.name}"`).join(", ") || "none"}): cannot tell which job built the artifact. Pass the build job's name with --job.`,
    );
  }
  const job = named[0] as (typeof named)[number];
  if (job.conclusion !== "success") {
    throw new BuildRecordError(
      `The build job of run ${runId} concluded "${job.conclusion ?? job.status}": promote only a successful build.`,
    );
  }
  let log: string;
  try {
    const response = await octokit.rest.actions.downloadJobLogsForWorkflowRun({
      owner,
      repo,
      job_id: job.id,
    });
    log = String(response.data);
  } catch (error) {
    const status = httpStatusOf(error);
    if (status === 404 || status === 410) {
      throw new BuildRecordError(
        `The log of the build job of run ${runId} is gone (${status}: ${githubMessageOf(error)}): without the build's record of its manifest this build cannot be verified. Push to main again for a fresh build.`,
      );
    }
    throw error;
  }
  const digests = recordedDigests(log);
  if (digests.length !== 1) {
    throw new BuildRecordError(
      digests.length === 0
        ? `The build job of run ${runId} recorded no manifest digest ("${MARKER}…" is not in its log): was it built before \`npm run build-record -- print\` was part of main.yml? Push to main again for a build that records it.`
        : `The build job of run ${runId} recorded ${digests.length} different manifest digests (${digests.join(", ")}): refusing to guess which is the build's.`,
    );
  }
  return {
    digest: digests[0] as string,
    files: recordedFiles(log),
    jobId: job.id,
    jobUrl: job.html_url,
  };
}

const USAGE = `
Usage: npm run build-record -- print [--dir DIR]
       npm run build-record -- read --run-id ID [--job NAME] [--json]

print: in Main's build job, after the build: prints the sha256 of DIR/dist/manifest.json and of
       every file under dist/ and cdktf.out/ (but .terraform/) as lines of the job's log (the
       record a promotion trusts: no token can edit a finished job's log) and sets the step
       output manifest-sha256.
read:  prints the digest the build job of Main run ID recorded, read from its log through the
       REST API; \`npm run verify-build -- --run-id ID\` checks the downloaded build against it.

  --dir DIR     the folder holding dist/ (default .)
  --run-id ID   the Main run whose build is promoted
  --job NAME    the build job's name (default "${BUILD_JOB_NAME}")
  --json        print {"runId", "manifestSha256", "jobId"}

Environment for read: GITHUB_TOKEN (the job needs \`actions: read\`), GITHUB_REPOSITORY,
GITHUB_API_URL (default https://api.github.com).
`;

export function runIdOption(value: string | undefined, usage: string): number {
  if (value === undefined) throw new UsageError(`Name the Main run with --run-id.\n${usage}`);
  if (!/^[1-9]\d*$/.test(value)) {
    throw new UsageError(
      `--run-id takes the number at the end of a Main run's URL, not "${value}".\n${usage}`,
    );
  }
  return Number(value);
}

export const buildRecordCommand = stepCommand(
  {
    usage: USAGE,
    allowPositionals: true,
    options: {
      dir: { type: "string" },
      "run-id": { type: "string" },
      job: { type: "string" },
      json: { type: "boolean" },
    },
  },
  async (parsed, env, out) => {
    const action = actionArgument(
      parsed.positionals,
      { print: "in the build job", read: "in a promotion" },
      USAGE,
    );
    if (action === "print") {
      const dir = resolve(parsed.values.dir ?? ".");
      const digest = await manifestDigest(dir);
      const files = await buildFiles(dir);
      out(`${[...fileRecordLines(files), recordLine(digest)].join("\n")}\n`);
      await setStepOutputs({ "manifest-sha256": digest }, env);
      await appendStepSummary(`Build manifest sha256: \`${digest}\``, env);
      return 0;
    }
    const runId = runIdOption(parsed.values["run-id"], USAGE);
    const record = await readBuildRecord(githubClient(env), runId, parsed.values.job);
    if (parsed.values.json === true) {
      out(`${JSON.stringify({ runId, manifestSha256: record.digest, jobId: record.jobId })}\n`);
    } else {
      out(`${record.digest}\n`);
    }
    await setStepOutputs({ "manifest-sha256": record.digest }, env);
    return 0;
  },
);

runIfMain(import.meta.url, (argv) => buildRecordCommand(argv));
