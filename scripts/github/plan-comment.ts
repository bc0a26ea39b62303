import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { runIfMain, UsageError } from "../cli.js";
import { planMarkdown } from "../terraform/plan-markdown.js";
import { type GitHubRepository, githubClient, githubMessageOf, httpStatusOf } from "./client.js";
import { parseSkipped, readPlanSections } from "./plan-sections.js";
import { stepCommand } from "./step-command.js";
import { appendStepSummary, currentRunUrl } from "./step-files.js";

/**
 * One comment per pull request holding its plans: found again by a hidden marker and edited in
 * place, so a PR that is pushed to twenty times has one plan comment, always the latest.
 */

export const PLAN_COMMENT_MARKER = "<!-- websocket-stages:plan -->";
/** GitHub rejects comment bodies over 65,536 characters; bytes are never fewer than characters. */
export const COMMENT_MAX_BYTES = 65_536;
/** GITHUB_TOKEN comments as this user. */
export const ACTIONS_BOT = "github-actions[bot]";

export type CommentOutcome =
  | {
      readonly action: "created" | "updated" | "unchanged";
      readonly id: number;
      readonly url: string;
    }
  | { readonly action: "forbidden"; readonly status: number; readonly message: string };

/**
 * Creates or updates the plan comment. Only a comment by `author` carrying the marker is edited:
 * a person quoting the marker never has their comment overwritten. Every page is read, so a
 * duplicate left by two racing runs is found and removed.
 */
export async function upsertPlanComment(
  github: GitHubRepository,
  issueNumber: number,
  body: string,
  author: string = ACTIONS_BOT,
): Promise<CommentOutcome> {
  const { octokit, owner, repo } = github;
  try {
    const marked = (
      await octokit.paginate(octokit.rest.issues.listComments, {
        owner,
        repo,
        issue_number: issueNumber,
        per_page: 100,
      })
    ).filter((c) => c.user?.login === author && c.body?.startsWith(PLAN_COMMENT_MARKER) === true);
    const [existing, ...duplicates] = marked;
    // Two runs racing past an empty list each create one; the next run keeps the oldest.
    for (const duplicate of duplicates) {
      await octokit.rest.issues.deleteComment({ owner, repo, comment_id: duplicate.id });
    }
    if (existing === undefined) {
      const created = await octokit.rest.issues.createComment({
        owner,
        repo,
        issue_number: issueNumber,
        body,
      });
      return { action: "created", id: created.data.id, url: created.data.html_url };
    }
    if (existing.body === body) {
      return { action: "unchanged", id: existing.id, url: existing.html_url };
    }
    const updated = await octokit.rest.issues.updateComment({
      owner,
      repo,
      comment_id: existing.id,
      body,
    });
    return { action: "updated", id: updated.data.id, url: updated.data.html_url };
  } catch (error) {
    // A pull request from a fork runs with a read-only token: the plans still reach the summary.
    const status = httpStatusOf(error);
    if (status === 403) return { action: "forbidden", status, message: githubMessageOf(error) };
    throw error;
  }
}

/** The comment body: the marker, then the plans, within GitHub's limit. */
export function planCommentBody(markdown: (maxBytes: number) => string): string {
  const prefix = `${PLAN_COMMENT_MARKER}\n`;
  return prefix + markdown(COMMENT_MAX_BYTES - Buffer.byteLength(prefix));
}

interface PullRequestEvent {
  readonly number?: unknown;
  readonly pull_request?: { readonly number?: unknown; readonly head?: { readonly sha?: unknown } };
}

async function readEvent(env: NodeJS.ProcessEnv): Promise<PullRequestEvent> {
  const eventPath = env.GITHUB_EVENT_PATH;
  if (eventPath === undefined || eventPath === "") return {};
  return JSON.parse(await readFile(eventPath, "utf8")) as PullRequestEvent;
}

function pullRequestNumber(option: string | undefined, event: PullRequestEvent): number {
  if (option !== undefined) {
    if (!/^[1-9]\d*$/.test(option)) {
      throw new UsageError(`--pr takes a pull request number, not "${option}".\n${USAGE}`);
    }
    return Number(option);
  }
  const number = event.pull_request?.number ?? event.number;
  if (typeof number === "number") return number;
  throw new UsageError(
    `No pull request to comment on: pass --pr N, or run in a pull_request workflow (its GITHUB_EVENT_PATH names the PR).\n${USAGE}`,
  );
}

const USAGE = `
Usage: npm run plan-comment -- --plans-dir DIR [--pr N] [--skipped STAGE=REASON ...] [--json]

Writes the plans under DIR (the Markdown of \`npm run plan-report\`) as one comment on the pull
request, found again by the hidden marker ${PLAN_COMMENT_MARKER} and edited in place on every run.
Too long a body is cut to GitHub's 65,536-character limit, pointing to the run's summary.
When GitHub refuses the comment (403: a pull request from a fork gets a read-only token) the
command still succeeds and says so in the run's summary.

  --plans-dir DIR          where the plans are (as for plan-report)
  --pr N                   the pull request (default: the one in GITHUB_EVENT_PATH)
  --skipped STAGE=REASON   a stage that was not planned and why (repeatable)
  --author LOGIN           whose marked comment to edit (default ${ACTIONS_BOT}, GITHUB_TOKEN's user)
  --json                   print {action, id, url} or {action: "forbidden", status, message}

Environment: GITHUB_TOKEN (the job needs \`pull-requests: write\`), GITHUB_REPOSITORY, and
GITHUB_API_URL (default https://api.github.com).
`;

export const planCommentCommand = stepCommand(
  {
    usage: USAGE,
    options: {
      "plans-dir": { type: "string" },
      pr: { type: "string" },
      skipped: { type: "string", multiple: true },
      author: { type: "string" },
      json: { type: "boolean" },
    },
  },
  async (parsed, env, out) => {
    const dir = parsed.values["plans-dir"];
    if (dir === undefined)
      throw new UsageError(`Name the plans folder with --plans-dir.\n${USAGE}`);
    const event = await readEvent(env);
    const issueNumber = pullRequestNumber(parsed.values.pr, event);
    const sections = await readPlanSections(
      resolve(dir),
      parseSkipped(parsed.values.skipped ?? [], USAGE),
    );
    const runUrl = currentRunUrl(env);
    // The comment outlives many pushes: say which commit and run it shows.
    const headSha = event.pull_request?.head?.sha;
    const intro = [
      typeof headSha === "string" ? `Plans of ${headSha.slice(0, 12)}` : "Plans",
      runUrl === undefined ? "" : ` from [this run](${runUrl})`,
      ".",
    ].join("");
    const body = planCommentBody((maxBytes) =>
      planMarkdown(sections, {
        maxBytes,
        intro,
        fullPlansAt:
          runUrl === undefined
            ? "the workflow run's summary and its plan artifacts"
            : `the [summary of the run](${runUrl}) and its plan artifacts`,
      }),
    );
    const outcome = await upsertPlanComment(
      githubClient(env),
      issueNumber,
      body,
      parsed.values.author,
    );
    if (parsed.values.json === true) out(`${JSON.stringify(outcome)}\n`);
    if (outcome.action === "forbidden") {
      const why = `GitHub answered ${outcome.status} (${outcome.message}) to writing the plan comment on #${issueNumber}. Pull requests from forks get a read-only GITHUB_TOKEN; otherwise give the job \`pull-requests: write\`. The plans are in this run's summary.`;
      await appendStepSummary(
        `> [!WARNING]\n> The plan comment could not be written: ${why}\n`,
        env,
      );
      if (parsed.values.json !== true) out(`::warning title=Plan comment not written::${why}\n`);
      return 0;
    }
    if (parsed.values.json !== true) out(`Plan comment ${outcome.action}: ${outcome.url}\n`);
    return 0;
  },
);

runIfMain(import.meta.url, (argv) => planCommentCommand(argv));
