import { Octokit } from "@octokit/rest";
import { ExpectedError } from "../../smoke/errors.js";

/**
 * The GitHub client every pipeline command uses, configured from the variables GitHub Actions
 * sets: GITHUB_TOKEN (passed in explicitly by the workflow), GITHUB_REPOSITORY (OWNER/NAME) and
 * GITHUB_API_URL (https://api.github.com, or a GitHub Enterprise or test stand-in URL).
 */

export interface GitHubRepository {
  readonly octokit: Octokit;
  readonly owner: string;
  readonly repo: string;
}

/** The environment lacks what a command needs to reach GitHub. */
export class GitHubSetupError extends ExpectedError {
  override readonly name = "GitHubSetupError";
}

export const DEFAULT_API_URL = "https://api.github.com";

export function githubClient(env: NodeJS.ProcessEnv = process.env): GitHubRepository {
  const token = env.GITHUB_TOKEN;
  if (token === undefined || token === "") {
    throw new GitHubSetupError(
      "GITHUB_TOKEN is not set. In a workflow, give the step the expression github.token as GITHUB_TOKEN in its env: " +
        "(and grant the job the permissions the command's --help names); locally, export a token (e.g. `export GITHUB_TOKEN=$(gh auth token)`).",
    );
  }
  const repository = env.GITHUB_REPOSITORY;
  const [owner, repo, ...rest] = (repository ?? "").split("/");
  if (owner === undefined || owner === "" || repo === undefined || repo === "" || rest.length > 0) {
    throw new GitHubSetupError(
      `GITHUB_REPOSITORY must be OWNER/NAME${repository === undefined ? " and is not set" : `, not "${repository}"`}. GitHub Actions sets it; locally, export it (e.g. \`export GITHUB_REPOSITORY=octo-org/websocket-stages\`).`,
    );
  }
  const baseUrl = (env.GITHUB_API_URL || DEFAULT_API_URL).replace(/\/+$/, "");
  if (!/^https?:\/\//.test(baseUrl)) {
    throw new GitHubSetupError(`GITHUB_API_URL must be an http(s) URL, not "${baseUrl}".`);
  }
  const octokit = new Octokit({
    auth: token,
    baseUrl,
    userAgent: "websocket-stages-pipeline",
    // Failed requests surface as errors each command explains; Octokit's own lines would repeat them.
    log: {
      debug: () => {},
      info: () => {},
      warn: (message: string) => process.stderr.write(`${message}\n`),
      error: () => {},
    },
  });
  return { octokit, owner, repo };
}

/** An Octokit request failure, narrowed without importing Octokit's error class everywhere. */
export function httpStatusOf(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null || !("status" in error)) return undefined;
  const { status } = error as { status: unknown };
  return typeof status === "number" ? status : undefined;
}

/** GitHub's own explanation of a failed request (its `message`), or the error's. */
export function githubMessageOf(error: unknown): string {
  const data = (error as { response?: { data?: unknown } }).response?.data;
  if (typeof data === "object" && data !== null && "message" in data) {
    return String((data as { message: unknown }).message);
  }
  return error instanceof Error ? error.message : String(error);
}
