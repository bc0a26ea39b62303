/**
 * For tests: synthesizes every stage from a fake bundle (small zips and a manifest in a temp
 * folder) and gives typed access to the resulting Terraform JSON.
 */
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Testing } from "cdktf";
import {
  ARTIFACTS,
  type BundleManifest,
  DEPLOYED_STAGES,
  type DeployedStage,
  FUNCTION_NAMES,
  type FunctionName,
} from "../functions/contract.js";
import { stagesApp } from "./app.js";

export type Resource = Record<string, unknown>;

export interface SynthesizedStack {
  /** Testing.synth's JSON text, for cdktf's matchers. */
  readonly text: string;
  readonly json: {
    readonly terraform: Record<string, unknown>;
    readonly provider: Record<string, unknown[]>;
    readonly resource: Record<string, Record<string, Resource>>;
    readonly output: Record<string, { value: unknown }>;
  };
}

export interface Fixture {
  readonly stacks: Record<DeployedStage, SynthesizedStack>;
  readonly manifest: BundleManifest;
  readonly root: string;
  remove(): void;
}

/** Writes a bundle manifest and one small zip per function into `distDir`. */
export function writeFakeBundle(distDir: string): BundleManifest {
  mkdirSync(distDir, { recursive: true });
  const functions = {} as Record<FunctionName, BundleManifest["functions"][FunctionName]>;
  for (const fn of FUNCTION_NAMES) {
    const bytes = Buffer.from(`fake ${fn} bundle`);
    const zip = `${fn}${ARTIFACTS.zipExtension}`;
    writeFileSync(join(distDir, zip), bytes);
    functions[fn] = {
      zip,
      sha256: createHash("sha256").update(bytes).digest("hex"),
      bytes: bytes.length,
    };
  }
  const manifest: BundleManifest = { functions };
  writeFileSync(join(distDir, ARTIFACTS.manifestFile), JSON.stringify(manifest));
  return manifest;
}

/** cdktf's Testing helpers make temp folders they never remove: keep them under `root`. */
export function synthesizeFixture(env: NodeJS.ProcessEnv = {}): Fixture {
  const root = mkdtempSync(join(tmpdir(), "websocket-stages-stacks-"));
  const previousTmp = process.env.TMPDIR;
  process.env.TMPDIR = root;
  try {
    const distDir = join(root, ARTIFACTS.dir);
    const manifest = writeFakeBundle(distDir);
    const { stacks } = stagesApp({ distDir, outdir: join(root, "cdktf.out"), env });
    const synthesized = {} as Record<DeployedStage, SynthesizedStack>;
    DEPLOYED_STAGES.forEach((stage, index) => {
      const stack = stacks[index];
      if (stack === undefined) throw new Error(`No stack for ${stage}`);
      const text = Testing.synth(stack);
      synthesized[stage] = { text, json: JSON.parse(text) as SynthesizedStack["json"] };
    });
    return {
      stacks: synthesized,
      manifest,
      root,
      remove: () => rmSync(root, { recursive: true, force: true }),
    };
  } finally {
    if (previousTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previousTmp;
  }
}

/** The resources of one type, by logical id. */
export function resources(stack: SynthesizedStack, type: string): [string, Resource][] {
  return Object.entries(stack.json.resource[type] ?? {});
}

/** The one resource of a type that satisfies `predicate`; fails when there is not exactly one. */
export function only(
  stack: SynthesizedStack,
  type: string,
  predicate: (resource: Resource) => boolean = () => true,
): [string, Resource] {
  const found = resources(stack, type).filter(([, resource]) => predicate(resource));
  if (found.length !== 1) throw new Error(`Expected one ${type}, found ${found.length}`);
  return found[0] as [string, Resource];
}

/** A Terraform reference to an attribute of a resource, as the JSON spells it. */
export function ref(type: string, id: string, attribute: string): string {
  return `\${${type}.${id}.${attribute}}`;
}
