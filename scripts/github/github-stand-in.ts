import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A stand-in for the parts of GitHub's REST API the pipeline's commands use, on 127.0.0.1: a
 * route table over in-memory state, answering with GitHub's response shapes, status codes and
 * pagination `Link` headers, so the commands' Octokit calls run unchanged against it. Tests seed
 * the state, point `GITHUB_API_URL` at `url`, and assert on the state and on `requests`.
 * Add routes with `route()` for endpoints a new command needs.
 */

export interface StandInUser {
  readonly login: string;
  readonly id: number;
  readonly type: "User" | "Bot";
}

/** Who a token is and whether it may write (a fork pull request's GITHUB_TOKEN may not). */
export interface StandInToken {
  readonly user: StandInUser;
  readonly readOnly?: boolean;
}

export interface IssueComment {
  id: number;
  issue_number: number;
  body: string;
  user: StandInUser;
  created_at: string;
  updated_at: string;
}

export interface Deployment {
  id: number;
  sha: string;
  ref: string;
  task: string;
  payload: Record<string, unknown> | string;
  environment: string;
  description: string | null;
  production_environment: boolean;
  transient_environment: boolean;
  creator: StandInUser;
  created_at: string;
}

export interface DeploymentStatus {
  id: number;
  deployment_id: number;
  state: string;
  description: string;
  environment: string;
  environment_url: string;
  log_url: string;
  creator: StandInUser;
  created_at: string;
}

export type ProtectionRule =
  | { type: "required_reviewers"; prevent_self_review?: boolean; reviewers: unknown[] }
  | { type: "wait_timer"; wait_timer: number }
  | { type: "branch_policy" };

export interface Environment {
  name: string;
  protection_rules: ProtectionRule[];
}

export interface WorkflowRun {
  id: number;
  name: string;
  path: string;
  head_branch: string;
  head_sha: string;
  event: string;
  status: string;
  conclusion: string | null;
}

export interface WorkflowJob {
  id: number;
  run_id: number;
  name: string;
  status: string;
  conclusion: string | null;
  /** The job's log as GitHub serves it (timestamped lines); undefined when deleted or expired. */
  log?: string;
}

/** A finished, successful push run of the Main workflow on main: `run` names its id and any change. */
export function mainRun(run: Pick<WorkflowRun, "id"> & Partial<WorkflowRun>): WorkflowRun {
  return {
    name: "Main",
    path: ".github/workflows/main.yml",
    head_branch: "main",
    head_sha: "1".repeat(40),
    event: "push",
    status: "completed",
    conclusion: "success",
    ...run,
  };
}

/** A job's log as GitHub serves it: every line timestamped. */
export function jobLog(...lines: readonly string[]): string {
  return lines.map((line) => `2026-11-30T12:00:00.0000000Z ${line}`).join("\n");
}

export interface GitHubState {
  readonly owner: string;
  readonly repo: string;
  readonly comments: IssueComment[];
  readonly deployments: Deployment[];
  readonly deploymentStatuses: DeploymentStatus[];
  readonly environments: Environment[];
  readonly runs: WorkflowRun[];
  readonly jobs: WorkflowJob[];
  nextId: number;
}

export interface StandInRequest {
  readonly method: string;
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly body: Record<string, unknown>;
  /** The caller, from the Authorization header. */
  readonly token: StandInToken;
  /** scheme://host:port of the stand-in, for the URLs responses carry. */
  readonly origin: string;
}

export interface StandInResponse {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

export type RouteHandler = (request: StandInRequest, state: GitHubState) => StandInResponse;

interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  readonly names: readonly string[];
  readonly handle: RouteHandler;
  /** Whether a read-only token gets 403 here (every method but GET by default). */
  readonly writes: boolean;
}

export interface GitHubStandIn {
  readonly url: string;
  readonly state: GitHubState;
  /** Every request answered, in order: method, path and query, and the status sent. */
  readonly requests: Array<{ method: string; path: string; status: number }>;
  /** Adds (or, registered later, overrides) a route: `path` like `/repos/:owner/:repo/…`. */
  route(method: string, path: string, handle: RouteHandler): void;
  close(): Promise<void>;
}

const DOCS = "https://docs.github.com/rest";

export function githubError(status: number, message: string): StandInResponse {
  return { status, body: { message, documentation_url: DOCS, status: String(status) } };
}

function compile(path: string): { pattern: RegExp; names: string[] } {
  const names: string[] = [];
  const source = path.replace(/:([A-Za-z_]+)/g, (_, name: string) => {
    names.push(name);
    return "([^/]+)";
  });
  return { pattern: new RegExp(`^${source}$`), names };
}

/**
 * One page of `items` the way GitHub pages lists: `per_page` (default 30, at most 100) and
 * `page`, with a `Link` header naming the next, last, first and prev pages that exist.
 */
export function paginate<T>(
  request: StandInRequest,
  items: readonly T[],
  wrap: (page: T[]) => unknown = (page) => page,
): StandInResponse {
  const perPage = Math.min(100, Math.max(1, Number(request.query.get("per_page") ?? 30)));
  const page = Math.max(1, Number(request.query.get("page") ?? 1));
  const last = Math.max(1, Math.ceil(items.length / perPage));
  const link = (n: number, rel: string) => {
    const query = new URLSearchParams(request.query);
    query.set("per_page", String(perPage));
    query.set("page", String(n));
    return `<${request.origin}${request.path}?${query}>; rel="${rel}"`;
  };
  const links: string[] = [];
  if (page < last) links.push(link(page + 1, "next"), link(last, "last"));
  if (page > 1) links.push(link(1, "first"), link(page - 1, "prev"));
  return {
    status: 200,
    body: wrap(items.slice((page - 1) * perPage, page * perPage)),
    headers: links.length > 0 ? { link: links.join(", ") } : {},
  };
}

function repoUrl(request: StandInRequest, state: GitHubState): string {
  return `${request.origin}/repos/${state.owner}/${state.repo}`;
}

function commentJson(request: StandInRequest, state: GitHubState, comment: IssueComment) {
  const { issue_number: issueNumber, ...rest } = comment;
  return {
    ...rest,
    node_id: `IC_${comment.id}`,
    url: `${repoUrl(request, state)}/issues/comments/${comment.id}`,
    html_url: `https://github.com/${state.owner}/${state.repo}/pull/${issueNumber}#issuecomment-${comment.id}`,
    issue_url: `${repoUrl(request, state)}/issues/${issueNumber}`,
    author_association: comment.user.type === "Bot" ? "NONE" : "MEMBER",
  };
}

function deploymentJson(request: StandInRequest, state: GitHubState, deployment: Deployment) {
  const url = `${repoUrl(request, state)}/deployments/${deployment.id}`;
  return {
    ...deployment,
    url,
    node_id: `DE_${deployment.id}`,
    original_environment: deployment.environment,
    updated_at: deployment.created_at,
    statuses_url: `${url}/statuses`,
    repository_url: repoUrl(request, state),
  };
}

function statusJson(request: StandInRequest, state: GitHubState, status: DeploymentStatus) {
  const { deployment_id: deploymentId, ...rest } = status;
  const deploymentUrl = `${repoUrl(request, state)}/deployments/${deploymentId}`;
  return {
    ...rest,
    url: `${deploymentUrl}/statuses/${status.id}`,
    node_id: `DES_${status.id}`,
    target_url: status.log_url,
    updated_at: status.created_at,
    deployment_url: deploymentUrl,
    repository_url: repoUrl(request, state),
  };
}

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, "Z");
}

const SHA = /^[0-9a-f]{40}$/;

/** GitHub's routes the pipeline's commands use. */
function defaultRoutes(add: GitHubStandIn["route"]): void {
  const repo = "/repos/:owner/:repo";

  add("GET", `${repo}/issues/:number/comments`, (request, state) =>
    paginate(
      request,
      state.comments
        .filter((c) => c.issue_number === Number(request.params.number))
        .map((c) => commentJson(request, state, c)),
    ),
  );
  add("POST", `${repo}/issues/:number/comments`, (request, state) => {
    if (typeof request.body.body !== "string") return githubError(422, "Invalid request.");
    const time = now();
    const comment: IssueComment = {
      id: state.nextId++,
      issue_number: Number(request.params.number),
      body: request.body.body,
      user: request.token.user,
      created_at: time,
      updated_at: time,
    };
    state.comments.push(comment);
    return { status: 201, body: commentJson(request, state, comment) };
  });
  add("PATCH", `${repo}/issues/comments/:id`, (request, state) => {
    const comment = state.comments.find((c) => c.id === Number(request.params.id));
    if (comment === undefined) return githubError(404, "Not Found");
    if (typeof request.body.body !== "string") return githubError(422, "Invalid request.");
    comment.body = request.body.body;
    comment.updated_at = now();
    return { status: 200, body: commentJson(request, state, comment) };
  });

  add("DELETE", `${repo}/issues/comments/:id`, (request, state) => {
    const index = state.comments.findIndex((c) => c.id === Number(request.params.id));
    if (index === -1) return githubError(404, "Not Found");
    state.comments.splice(index, 1);
    return { status: 204 };
  });

  add("GET", `${repo}/deployments`, (request, state) => {
    const filters = ["sha", "ref", "task", "environment"] as const;
    const matching = state.deployments
      .filter((d) => filters.every((f) => !request.query.has(f) || request.query.get(f) === d[f]))
      .toReversed(); // newest first, as GitHub lists them
    return paginate(
      request,
      matching.map((d) => deploymentJson(request, state, d)),
    );
  });
  add("POST", `${repo}/deployments`, (request, state) => {
    const { ref, environment, task, payload, description } = request.body;
    if (typeof ref !== "string" || !SHA.test(ref)) {
      return githubError(422, `No ref found for: ${String(ref)}`);
    }
    const deployment: Deployment = {
      id: state.nextId++,
      sha: ref,
      ref,
      task: typeof task === "string" ? task : "deploy",
      payload: (payload ?? {}) as Deployment["payload"],
      environment: typeof environment === "string" ? environment : "production",
      description: typeof description === "string" ? description : null,
      production_environment: request.body.production_environment === true,
      transient_environment: request.body.transient_environment === true,
      creator: request.token.user,
      created_at: now(),
    };
    state.deployments.push(deployment);
    return { status: 201, body: deploymentJson(request, state, deployment) };
  });
  add("GET", `${repo}/deployments/:id/statuses`, (request, state) => {
    const id = Number(request.params.id);
    if (!state.deployments.some((d) => d.id === id)) return githubError(404, "Not Found");
    return paginate(
      request,
      state.deploymentStatuses
        .filter((s) => s.deployment_id === id)
        .toReversed()
        .map((s) => statusJson(request, state, s)),
    );
  });
  add("POST", `${repo}/deployments/:id/statuses`, (request, state) => {
    const deployment = state.deployments.find((d) => d.id === Number(request.params.id));
    if (deployment === undefined) return githubError(404, "Not Found");
    const states = ["error", "failure", "inactive", "in_progress", "queued", "pending", "success"];
    if (typeof request.body.state !== "string" || !states.includes(request.body.state)) {
      return githubError(422, "Validation Failed");
    }
    const text = (key: string) => (typeof request.body[key] === "string" ? request.body[key] : "");
    const status: DeploymentStatus = {
      id: state.nextId++,
      deployment_id: deployment.id,
      state: request.body.state,
      description: text("description"),
      environment: deployment.environment,
      environment_url: text("environment_url"),
      log_url: text("log_url"),
      creator: request.token.user,
      created_at: now(),
    };
    state.deploymentStatuses.push(status);
    return { status: 201, body: statusJson(request, state, status) };
  });

  add("GET", `${repo}/environments/:name`, (request, state) => {
    const environment = state.environments.find((e) => e.name === request.params.name);
    if (environment === undefined) return githubError(404, "Not Found");
    const id = state.environments.indexOf(environment) + 1;
    return {
      status: 200,
      body: {
        id,
        node_id: `EN_${id}`,
        name: environment.name,
        url: `${repoUrl(request, state)}/environments/${environment.name}`,
        html_url: `https://github.com/${state.owner}/${state.repo}/deployments/activity_log?environments_filter=${environment.name}`,
        created_at: "2026-01-01T00:00:00Z",
        updated_at: "2026-01-01T00:00:00Z",
        protection_rules: environment.protection_rules.map((rule, index) => ({
          id: id * 100 + index,
          node_id: `GA_${id * 100 + index}`,
          ...rule,
        })),
        deployment_branch_policy: null,
      },
    };
  });

  add("GET", `${repo}/actions/runs/:id`, (request, state) => {
    const run = state.runs.find((r) => r.id === Number(request.params.id));
    if (run === undefined) return githubError(404, "Not Found");
    return {
      status: 200,
      body: {
        ...run,
        node_id: `WFR_${run.id}`,
        run_attempt: 1,
        html_url: `https://github.com/${state.owner}/${state.repo}/actions/runs/${run.id}`,
        jobs_url: `${repoUrl(request, state)}/actions/runs/${run.id}/jobs`,
      },
    };
  });
  add("GET", `${repo}/actions/runs/:id/jobs`, (request, state) => {
    const runId = Number(request.params.id);
    if (!state.runs.some((r) => r.id === runId)) return githubError(404, "Not Found");
    const jobs = state.jobs
      .filter((j) => j.run_id === runId)
      .map(({ log: _, ...job }) => ({
        ...job,
        node_id: `CR_${job.id}`,
        html_url: `https://github.com/${state.owner}/${state.repo}/actions/runs/${runId}/job/${job.id}`,
        run_url: `${repoUrl(request, state)}/actions/runs/${runId}`,
        steps: [],
      }));
    return paginate(request, jobs, (page) => ({ total_count: jobs.length, jobs: page }));
  });
  // GitHub answers with a short-lived redirect to the log's blob; the stand-in serves it itself.
  add("GET", `${repo}/actions/jobs/:id/logs`, (request, state) => {
    const job = state.jobs.find((j) => j.id === Number(request.params.id));
    if (job === undefined) return githubError(404, "Not Found");
    if (job.log === undefined) return githubError(410, "The logs for this job have expired.");
    return { status: 302, headers: { location: `${request.origin}/_blobs/job-logs/${job.id}` } };
  });
  add("GET", "/_blobs/job-logs/:id", (request, state) => {
    const job = state.jobs.find((j) => j.id === Number(request.params.id));
    if (job?.log === undefined) return githubError(404, "BlobNotFound");
    return { status: 200, body: job.log, headers: { "content-type": "text/plain" } };
  });
}

async function readBody(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  if (chunks.length === 0) return {};
  const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
}

export interface StandInOptions {
  readonly owner?: string;
  readonly repo?: string;
  /** Accepted tokens; any other Authorization is answered 401 Bad credentials. */
  readonly tokens: Readonly<Record<string, StandInToken>>;
}

export async function startGitHubStandIn(options: StandInOptions): Promise<GitHubStandIn> {
  const routes: Route[] = [];
  const state: GitHubState = {
    owner: options.owner ?? "octo-org",
    repo: options.repo ?? "websocket-stages",
    comments: [],
    deployments: [],
    deploymentStatuses: [],
    environments: [],
    runs: [],
    jobs: [],
    nextId: 1000,
  };
  const requests: GitHubStandIn["requests"] = [];
  const route: GitHubStandIn["route"] = (method, path, handle) => {
    const { pattern, names } = compile(path);
    routes.unshift({ method, pattern, names, handle, writes: method !== "GET" });
  };
  defaultRoutes(route);

  const answer = async (req: IncomingMessage): Promise<StandInResponse> => {
    const origin = `http://${req.headers.host}`;
    const url = new URL(req.url ?? "/", origin);
    const method = req.method ?? "GET";
    const body = await readBody(req);
    // The log blob's URL is pre-signed on GitHub: no Authorization travels with it.
    const isBlob = url.pathname.startsWith("/_blobs/");
    const credential = /^(?:token|bearer) (.+)$/i.exec(req.headers.authorization ?? "")?.[1];
    const token = credential === undefined ? undefined : options.tokens[credential];
    if (!isBlob && token === undefined) return githubError(401, "Bad credentials");
    for (const r of routes) {
      const match = r.method === method ? r.pattern.exec(url.pathname) : null;
      if (match === null) continue;
      const params = Object.fromEntries(
        r.names.map((name, i) => [name, decodeURIComponent(match[i + 1] ?? "")]),
      );
      if (params.owner !== undefined && params.owner !== state.owner) {
        return githubError(404, "Not Found");
      }
      if (params.repo !== undefined && params.repo !== state.repo) {
        return githubError(404, "Not Found");
      }
      if (r.writes && token?.readOnly === true) {
        return githubError(403, "Resource not accessible by integration");
      }
      const anonymous: StandInToken = { user: { login: "anonymous", id: 0, type: "User" } };
      return r.handle(
        {
          method,
          path: url.pathname,
          params,
          query: url.searchParams,
          body,
          token: token ?? anonymous,
          origin,
        },
        state,
      );
    }
    return githubError(404, "Not Found");
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void answer(req)
      .catch((error: unknown) => githubError(500, `stand-in failure: ${String(error)}`))
      .then((response) => {
        requests.push({
          method: req.method ?? "GET",
          path: req.url ?? "/",
          status: response.status,
        });
        const isText = typeof response.body === "string";
        res.writeHead(response.status, {
          "content-type": isText ? "text/plain" : "application/json; charset=utf-8",
          "x-github-request-id": `STANDIN:${requests.length}`,
          ...response.headers,
        });
        res.end(
          response.body === undefined
            ? undefined
            : isText
              ? (response.body as string)
              : JSON.stringify(response.body),
        );
      });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    state,
    requests,
    route,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
