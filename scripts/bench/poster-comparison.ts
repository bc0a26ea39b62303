import { LOCAL } from "../../functions/contract.js";
import { Worker } from "./worker.js";

/**
 * The fast poster against the SDK poster with nothing else around them: each posts `posts` frames
 * to a bare keep-alive server (poster-sink.ts) from its own process (poster-host.ts), in rounds
 * taking turns. Per post: wall time at delivery's concurrency, and CPU (user + system).
 */

export interface PosterResult {
  readonly variant: "fast" | "sdk";
  readonly postsPerSecond: number;
  readonly cpuUsPerPost: number;
  readonly systemCpuUsPerPost: number;
}

export async function posterComparison(
  posts: number,
  rounds: number,
  onProgress: (line: string) => void = () => undefined,
  profileDir?: string,
): Promise<PosterResult[]> {
  const env = {
    AWS_REGION: LOCAL.region,
    AWS_ACCESS_KEY_ID: "local",
    AWS_SECRET_ACCESS_KEY: "local",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  };
  const sink = Worker.start("poster sink", new URL("./poster-sink.ts", import.meta.url));
  const hosts = {
    fast: Worker.start(
      "fast poster",
      new URL("./poster-host.ts", import.meta.url),
      env,
      profileDir,
    ),
    sdk: Worker.start("SDK poster", new URL("./poster-host.ts", import.meta.url), env, profileDir),
  };
  const totals = {
    fast: { wallMs: 0, cpuMs: 0, systemCpuMs: 0, posts: 0 },
    sdk: { wallMs: 0, cpuMs: 0, systemCpuMs: 0, posts: 0 },
  };
  try {
    const { endpoint } = await sink.request<{ endpoint: string }>("start");
    // Round 0 warms both up (JIT, connections, credentials) and is not counted.
    for (let round = 0; round <= rounds; round += 1) {
      for (const variant of ["fast", "sdk"] as const) {
        onProgress(`posters: ${variant} ${round === 0 ? "warm-up" : `round ${round}/${rounds}`}`);
        const result = await hosts[variant].request<{
          wallMs: number;
          cpuMs: number;
          systemCpuMs: number;
          failed: number;
        }>("posts", { variant, endpoint, count: posts, frame: '{"seq":0}' });
        if (result.failed > 0) throw new Error(`${variant} poster: ${result.failed} posts failed`);
        if (round === 0) continue;
        const total = totals[variant];
        total.wallMs += result.wallMs;
        total.cpuMs += result.cpuMs;
        total.systemCpuMs += result.systemCpuMs;
        total.posts += posts;
      }
    }
  } finally {
    await Promise.all([sink.stop(), hosts.fast.stop(), hosts.sdk.stop()]);
  }
  return (["fast", "sdk"] as const).map((variant) => {
    const total = totals[variant];
    return {
      variant,
      postsPerSecond: (total.posts * 1000) / total.wallMs,
      cpuUsPerPost: (total.cpuMs * 1000) / total.posts,
      systemCpuUsPerPost: (total.systemCpuMs * 1000) / total.posts,
    };
  });
}
