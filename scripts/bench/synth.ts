import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { median } from "./cold-start.js";
import { measureInProcess } from "./measured-process.js";

/**
 * Synth through the stacks' per-resource imports (the `npm run synth` path) against the same
 * synth with the provider loaded from its package root, each in fresh processes taking turns:
 * wall time from process start and peak resident memory (process.resourceUsage().maxRSS).
 */

export type SynthMode = "deep" | "root";

export interface SynthResult {
  readonly mode: SynthMode;
  readonly ms: readonly number[];
  readonly maxRssMb: readonly number[];
  readonly medianMs: number;
  readonly medianRssMb: number;
}

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const RUNNER = fileURLToPath(new URL("./synth-run.ts", import.meta.url));

function synthOnce(mode: SynthMode, outdir: string): Promise<{ ms: number; maxRssMb: number }> {
  return measureInProcess(`synth (${mode})`, ["--import", "tsx", RUNNER, mode, outdir], {
    cwd: ROOT,
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
  });
}

export async function synthComparison(
  runs: number,
  onProgress: (line: string) => void = () => undefined,
): Promise<SynthResult[]> {
  const outdir = await mkdtemp(join(tmpdir(), "bench-synth-"));
  const samples: Record<SynthMode, { ms: number[]; maxRssMb: number[] }> = {
    deep: { ms: [], maxRssMb: [] },
    root: { ms: [], maxRssMb: [] },
  };
  try {
    for (let run = 0; run < runs; run += 1) {
      for (const mode of ["deep", "root"] as const) {
        onProgress(`synth: ${mode} imports ${run + 1}/${runs}`);
        const { ms, maxRssMb } = await synthOnce(mode, join(outdir, mode));
        samples[mode].ms.push(ms);
        samples[mode].maxRssMb.push(maxRssMb);
      }
    }
  } finally {
    await rm(outdir, { recursive: true, force: true });
  }
  return (["deep", "root"] as const).map((mode) => ({
    mode,
    ...samples[mode],
    medianMs: median(samples[mode].ms),
    medianRssMb: median(samples[mode].maxRssMb),
  }));
}
