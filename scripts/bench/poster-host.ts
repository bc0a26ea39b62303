import { LIMITS } from "../../functions/contract.js";
import { createFastPoster } from "../../functions/lib/fast-poster.js";
import { createManagementClient, type Poster, SdkPoster } from "../../functions/lib/poster.js";
import { serve } from "./worker.js";

/**
 * The posters alone, in a process of their own: `count` posts at delivery's concurrency, timed
 * and CPU-measured (process.cpuUsage, user and system). No registry, no delivery bookkeeping.
 */

const posters = new Map<string, Poster>();

serve({
  async posts(args) {
    const variant = String(args.variant);
    const endpoint = String(args.endpoint);
    const count = Number(args.count);
    let poster = posters.get(variant);
    if (poster === undefined) {
      poster =
        variant === "fast"
          ? createFastPoster(endpoint)
          : new SdkPoster(createManagementClient(endpoint));
      posters.set(variant, poster);
    }
    const frame = String(args.frame);
    let next = 0;
    let failed = 0;
    const used = process.cpuUsage();
    const started = performance.now();
    const run = async (target: Poster) => {
      while (next < count) {
        const index = next++;
        const outcome = await target.post(`bench+/=${index}`, frame);
        if (outcome.status !== "delivered") failed += 1;
      }
    };
    await Promise.all(Array.from({ length: LIMITS.deliveryConcurrency }, () => run(poster)));
    const cpu = process.cpuUsage(used);
    return {
      wallMs: performance.now() - started,
      cpuMs: (cpu.user + cpu.system) / 1000,
      systemCpuMs: cpu.system / 1000,
      failed,
    };
  },
  async stop() {
    return {};
  },
});
