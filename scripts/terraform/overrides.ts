import { cp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { backendJson, type StateBackend } from "../../stacks/backend.js";

/**
 * Terraform override files (`*_override.tf.json`) adjust a synthesized stack for where it runs —
 * the state backend chosen at plan time, offline planning, an emulator — without resynthesizing.
 */

/** Puts the stack's state where `backend` says (replacing the synthesized backend block). */
export async function overrideBackend(dir: string, backend: StateBackend): Promise<void> {
  await writeOverride(dir, "backend", { terraform: { backend: backendJson(backend) } });
}

/** Drops a backend override left by an earlier run, so the synthesized backend applies again. */
export async function removeBackendOverride(dir: string): Promise<void> {
  await rm(overrideFile(dir, "backend"), { force: true });
}

/** AWS provider settings merged over the stack's own (region and default tags stay). */
export async function overrideProvider(
  dir: string,
  settings: Record<string, unknown>,
): Promise<void> {
  await writeOverride(dir, "provider", { provider: { aws: settings } });
}

/**
 * Replaces the stack's provider version pin — for offline validation and rehearsal only, never
 * for plan or deploy: a machine whose filesystem mirror lacks the pinned 6.x validates against
 * the version it has. Terraform merges `required_providers` entries of override files.
 */
export async function overrideProviderVersion(dir: string, version: string): Promise<void> {
  await writeOverride(dir, "provider_version", {
    terraform: { required_providers: { aws: { source: "hashicorp/aws", version } } },
  });
}

/** Provider settings that let `terraform plan` run with no AWS account or network. */
export const OFFLINE_PROVIDER = {
  access_key: "offline",
  secret_key: "offline",
  skip_credentials_validation: true,
  skip_requesting_account_id: true,
  skip_metadata_api_check: true,
} as const;

/** A scratch copy of a synthesized stack (its JSON and assets, never its .terraform). */
export async function copyStack(from: string, to: string): Promise<string> {
  await cp(from, to, {
    recursive: true,
    filter: (source) => source !== join(from, ".terraform") && !source.endsWith(".tfstate"),
  });
  return to;
}

function overrideFile(dir: string, name: string): string {
  return join(dir, `${name}_override.tf.json`);
}

async function writeOverride(dir: string, name: string, content: unknown): Promise<void> {
  await writeFile(overrideFile(dir, name), `${JSON.stringify(content, null, 2)}\n`);
}
