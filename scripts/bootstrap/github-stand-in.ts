import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * For tests: a stand-in for the parts of GitHub's REST API the bootstrap uses — environments
 * (protection rules, deployment branch policies), environment and repository variables, the
 * authenticated user — answering with the real response shapes, on 127.0.0.1. It keeps one
 * repository's settings in memory and records every request.
 */

interface Environment {
  readonly id: number;
  reviewers: { type: "User" | "Team"; id: number }[];
  branchPolicy: { protected_branches: boolean; custom_branch_policies: boolean } | null;
  branchPolicies: { id: number; node_id: string; name: string; type: "branch" | "tag" }[];
  variables: Map<string, string>;
}

export interface GitHubStandIn {
  readonly url: string;
  readonly requests: { method: string; path: string }[];
  readonly environments: Map<string, Environment>;
  readonly repositoryVariables: Map<string, string>;
  readonly user: { readonly login: string; readonly id: number };
  close(): Promise<void>;
}

type Handler = (
  params: Record<string, string>,
  body: Record<string, unknown>,
) => { status: number; body?: unknown };

const STAMP = "2026-11-30T12:00:00Z";

export async function startGitHubStandIn(repository: string): Promise<GitHubStandIn> {
  const user = { login: "octocat", id: 583231 };
  const environments = new Map<string, Environment>();
  const repositoryVariables = new Map<string, string>();
  const requests: { method: string; path: string }[] = [];
  let nextId = 100;
  const notFound = {
    status: 404,
    body: {
      message: "Not Found",
      documentation_url: "https://docs.github.com/rest",
      status: "404",
    },
  };

  const environmentBody = (name: string, env: Environment) => ({
    id: env.id,
    node_id: `EN_${env.id}`,
    name,
    url: `https://api.github.com/repos/${repository}/environments/${name}`,
    html_url: `https://github.com/${repository}/deployments/activity_log?environments_filter=${name}`,
    created_at: STAMP,
    updated_at: STAMP,
    can_admins_bypass: true,
    protection_rules: [
      ...(env.reviewers.length > 0
        ? [
            {
              id: env.id + 1,
              node_id: `GA_${env.id + 1}`,
              prevent_self_review: false,
              type: "required_reviewers",
              reviewers: env.reviewers.map((r) => ({
                type: r.type,
                reviewer: {
                  login: r.id === user.id ? user.login : `user${r.id}`,
                  id: r.id,
                  type: "User",
                },
              })),
            },
          ]
        : []),
      ...(env.branchPolicy !== null
        ? [{ id: env.id + 2, node_id: `GA_${env.id + 2}`, type: "branch_policy" }]
        : []),
    ],
    deployment_branch_policy: env.branchPolicy,
  });
  const variableBody = (name: string, value: string) => ({
    name,
    value,
    created_at: STAMP,
    updated_at: STAMP,
  });
  const environment = (params: Record<string, string>) => environments.get(params.env ?? "");

  const routes: [string, RegExp, Handler][] = [
    [
      "GET",
      /^\/user$/,
      () => ({ status: 200, body: { ...user, type: "User", site_admin: false } }),
    ],
    [
      "GET",
      /^\/repos\/[^/]+\/[^/]+\/environments\/(?<env>[^/]+)$/,
      (params) => {
        const env = environment(params);
        return env === undefined
          ? notFound
          : { status: 200, body: environmentBody(params.env ?? "", env) };
      },
    ],
    [
      "PUT",
      /^\/repos\/[^/]+\/[^/]+\/environments\/(?<env>[^/]+)$/,
      (params, body) => {
        const name = params.env ?? "";
        if (!environments.has(name)) nextId += 10;
        const env = environments.get(name) ?? {
          id: nextId,
          reviewers: [],
          branchPolicy: null,
          branchPolicies: [],
          variables: new Map<string, string>(),
        };
        if (Array.isArray(body.reviewers))
          env.reviewers = body.reviewers as Environment["reviewers"];
        if ("deployment_branch_policy" in body) {
          env.branchPolicy = body.deployment_branch_policy as Environment["branchPolicy"];
        }
        environments.set(name, env);
        return { status: 200, body: environmentBody(name, env) };
      },
    ],
    [
      "GET",
      /^\/repos\/[^/]+\/[^/]+\/environments\/(?<env>[^/]+)\/deployment-branch-policies$/,
      (params) => {
        const env = environment(params);
        if (env === undefined) return notFound;
        return {
          status: 200,
          body: { total_count: env.branchPolicies.length, branch_policies: env.branchPolicies },
        };
      },
    ],
    [
      "POST",
      /^\/repos\/[^/]+\/[^/]+\/environments\/(?<env>[^/]+)\/deployment-branch-policies$/,
      (params, body) => {
        const env = environment(params);
        if (env === undefined) return notFound;
        if (env.branchPolicy?.custom_branch_policies !== true) {
          return { status: 404, body: { message: "Custom branch policies are not enabled." } };
        }
        nextId += 1;
        const policy = {
          id: nextId,
          node_id: `MDE2OkdhdGVCcmFuY2hQb2xpY3k${nextId}`,
          name: String(body.name),
          type: (body.type === "tag" ? "tag" : "branch") as "branch" | "tag",
        };
        env.branchPolicies.push(policy);
        return { status: 200, body: policy };
      },
    ],
    [
      "GET",
      /^\/repos\/[^/]+\/[^/]+\/environments\/(?<env>[^/]+)\/variables\/(?<name>[^/]+)$/,
      (params) => {
        const value = environment(params)?.variables.get(params.name ?? "");
        return value === undefined
          ? notFound
          : { status: 200, body: variableBody(params.name ?? "", value) };
      },
    ],
    [
      "POST",
      /^\/repos\/[^/]+\/[^/]+\/environments\/(?<env>[^/]+)\/variables$/,
      (params, body) => {
        const env = environment(params);
        if (env === undefined) return notFound;
        if (env.variables.has(String(body.name))) {
          return { status: 409, body: { message: "Already exists - Variable already exists" } };
        }
        env.variables.set(String(body.name), String(body.value));
        return { status: 201, body: {} };
      },
    ],
    [
      "PATCH",
      /^\/repos\/[^/]+\/[^/]+\/environments\/(?<env>[^/]+)\/variables\/(?<name>[^/]+)$/,
      (params, body) => {
        const env = environment(params);
        if (env === undefined || !env.variables.has(params.name ?? "")) return notFound;
        env.variables.set(params.name ?? "", String(body.value));
        return { status: 204 };
      },
    ],
    [
      "GET",
      /^\/repos\/[^/]+\/[^/]+\/actions\/variables\/(?<name>[^/]+)$/,
      (params) => {
        const value = repositoryVariables.get(params.name ?? "");
        return value === undefined
          ? notFound
          : { status: 200, body: variableBody(params.name ?? "", value) };
      },
    ],
    [
      "POST",
      /^\/repos\/[^/]+\/[^/]+\/actions\/variables$/,
      (_params, body) => {
        if (repositoryVariables.has(String(body.name))) {
          return { status: 409, body: { message: "Already exists - Variable already exists" } };
        }
        repositoryVariables.set(String(body.name), String(body.value));
        return { status: 201, body: {} };
      },
    ],
    [
      "PATCH",
      /^\/repos\/[^/]+\/[^/]+\/actions\/variables\/(?<name>[^/]+)$/,
      (params, body) => {
        if (!repositoryVariables.has(params.name ?? "")) return notFound;
        repositoryVariables.set(params.name ?? "", String(body.value));
        return { status: 204 };
      },
    ],
  ];

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const path = new URL(request.url ?? "/", "http://127.0.0.1").pathname;
    const method = request.method ?? "GET";
    requests.push({ method, path });
    const prefix = `/repos/${repository}/`;
    const route = routes.find(
      ([m, pattern]) =>
        m === method && pattern.test(path) && (path === "/user" || path.startsWith(prefix)),
    );
    const result = route
      ? route[2](
          Object.fromEntries(
            Object.entries(route[1].exec(path)?.groups ?? {}).map(([k, v]) => [
              k,
              decodeURIComponent(v),
            ]),
          ),
          text === "" ? {} : (JSON.parse(text) as Record<string, unknown>),
        )
      : notFound;
    response.writeHead(result.status, { "content-type": "application/json; charset=utf-8" });
    response.end(result.body === undefined ? undefined : JSON.stringify(result.body));
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      response.writeHead(500).end(String(error));
    });
  });
  await new Promise<void>((resolveListen) => server.listen(0, "127.0.0.1", resolveListen));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    environments,
    repositoryVariables,
    user,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.closeAllConnections();
        server.close(() => resolveClose());
      }),
  };
}
