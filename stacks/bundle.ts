import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  ARTIFACTS,
  type BundleManifest,
  FUNCTION_NAMES,
  type FunctionName,
} from "../functions/contract.js";

/** `npm run bundle` has not run (or its output is incomplete): nothing to deploy yet. */
export class BundleNotFoundError extends Error {
  override readonly name = "BundleNotFoundError";
}

export interface FunctionBundle {
  /** Absolute path of the function's zip. */
  readonly zip: string;
  /** Base64 SHA-256 of the zip, the form Lambda reports as CodeSha256. */
  readonly sha256Base64: string;
}

/** Reads dist/manifest.json and checks that every function's zip is there. */
export function readBundles(distDir: string): Record<FunctionName, FunctionBundle> {
  const manifestFile = join(distDir, ARTIFACTS.manifestFile);
  const rebuild = "Run `npm run bundle` first.";
  if (!existsSync(manifestFile)) {
    throw new BundleNotFoundError(`No Lambda bundles: ${manifestFile} is missing. ${rebuild}`);
  }
  let manifest: Partial<BundleManifest>;
  try {
    manifest = JSON.parse(readFileSync(manifestFile, "utf8")) as Partial<BundleManifest>;
  } catch {
    throw new BundleNotFoundError(`${manifestFile} is not valid JSON. ${rebuild}`);
  }
  const bundles = {} as Record<FunctionName, FunctionBundle>;
  for (const fn of FUNCTION_NAMES) {
    const entry = manifest.functions?.[fn];
    if (entry === undefined || typeof entry.zip !== "string" || typeof entry.sha256 !== "string") {
      throw new BundleNotFoundError(`${manifestFile} has no bundle for "${fn}". ${rebuild}`);
    }
    const zip = resolve(distDir, entry.zip);
    if (!existsSync(zip)) {
      throw new BundleNotFoundError(`${zip} (named in ${manifestFile}) is missing. ${rebuild}`);
    }
    if (!/^[0-9a-f]{64}$/i.test(entry.sha256)) {
      throw new BundleNotFoundError(
        `${manifestFile} gives "${fn}" the digest "${entry.sha256}", not a hex SHA-256. ${rebuild}`,
      );
    }
    bundles[fn] = { zip, sha256Base64: Buffer.from(entry.sha256, "hex").toString("base64") };
  }
  return bundles;
}
