import { existsSync, readdirSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { AWS_PROVIDER_CONSTRAINT } from "../../stacks/websocket-stack.js";
import { overrideProviderVersion } from "./overrides.js";

/** Env var naming a provider filesystem mirror explicitly (a folder holding registry.terraform.io/). */
export const PROVIDER_MIRROR_ENV = "WEBSOCKET_STAGES_PROVIDER_MIRROR";

/** Where machine images and Terraform's own conventions put filesystem mirrors. */
const MIRROR_CANDIDATES = [
  "/opt/tf-plugins",
  join(homedir(), ".terraform.d", "plugins"),
  join(homedir(), ".local", "share", "terraform", "plugins"),
  "/usr/local/share/terraform/plugins",
  "/usr/share/terraform/plugins",
];

/** The folder of a filesystem mirror that holds hashicorp/aws, if this machine has one. */
export function findProviderMirror(env: NodeJS.ProcessEnv): string | undefined {
  const named = env[PROVIDER_MIRROR_ENV];
  const candidates = named ? [named] : MIRROR_CANDIDATES;
  return candidates.find((dir) =>
    existsSync(join(dir, "registry.terraform.io", "hashicorp", "aws")),
  );
}

/**
 * The environment for terraform: with a mirror, a CLI config (written into `configDir`) that
 * installs providers from it and never from the network. A TF_CLI_CONFIG_FILE the user already
 * set wins when that file exists.
 */
export async function terraformEnvironment(
  configDir: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ env: NodeJS.ProcessEnv; providerSource: string; mirror?: string }> {
  const userConfig = env.TF_CLI_CONFIG_FILE;
  if (userConfig && existsSync(userConfig)) {
    return { env: { ...env }, providerSource: `the CLI config ${userConfig}` };
  }
  const mirror = findProviderMirror(env);
  if (mirror === undefined) {
    return { env: { ...env }, providerSource: "the registry (no filesystem mirror found)" };
  }
  await mkdir(configDir, { recursive: true });
  const file = join(configDir, "terraform.rc");
  await writeFile(
    file,
    [
      "provider_installation {",
      "  filesystem_mirror {",
      `    path    = ${JSON.stringify(mirror)}`,
      '    include = ["registry.terraform.io/*/*"]',
      "  }",
      '  direct { exclude = ["registry.terraform.io/*/*"] }',
      "}",
      "",
    ].join("\n"),
  );
  return {
    env: { ...env, TF_CLI_CONFIG_FILE: file },
    providerSource: `the filesystem mirror ${mirror}`,
    mirror,
  };
}

/** The hashicorp/aws versions a filesystem mirror holds (unpacked or packed layout). */
export function mirroredAwsVersions(mirror: string): string[] {
  const dir = join(mirror, "registry.terraform.io", "hashicorp", "aws");
  if (!existsSync(dir)) return [];
  const versions = readdirSync(dir).map(
    (name) => /^terraform-provider-aws_(\d+\.\d+\.\d+)_/.exec(name)?.[1] ?? name,
  );
  return [...new Set(versions.filter((name) => /^\d+\.\d+\.\d+$/.test(name)))].sort(
    compareVersions,
  );
}

function compareVersions(a: string, b: string): number {
  const [x, y] = [a, b].map((v) => v.split(".").map(Number));
  for (let i = 0; i < 3; i += 1) {
    const d = (x?.[i] ?? 0) - (y?.[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Whether `version` satisfies a pessimistic constraint `~> MAJOR.MINOR` (the form the stacks pin):
 * the same major, at least that minor.
 */
export function satisfiesPessimistic(version: string, constraint: string): boolean {
  const match = /^~>\s*(\d+)\.(\d+)$/.exec(constraint.trim());
  if (match === null)
    throw new Error(`Unsupported provider constraint ${JSON.stringify(constraint)}.`);
  const [major = 0, minor = 0] = version.split(".").map(Number);
  return major === Number(match[1]) && minor >= Number(match[2]);
}

/**
 * The provider version validation must use instead of the stack's pin, when this machine installs
 * providers from a filesystem mirror that holds no version the pin admits (this image's mirror
 * holds 5.100.0 only, the stacks pin 6.x): the newest mirrored version. Undefined when the pin
 * can be honoured, or when providers come from the registry.
 */
export function validationProviderVersion(
  mirror: string | undefined,
  constraint: string,
): string | undefined {
  if (mirror === undefined) return undefined;
  const versions = mirroredAwsVersions(mirror);
  if (versions.some((version) => satisfiesPessimistic(version, constraint))) return undefined;
  return versions.at(-1);
}

/**
 * For emulator runs on a machine whose mirror lacks the pinned hashicorp/aws: an override to the
 * version the mirror holds, in `dir` only. Returns that version, or undefined when none was needed.
 */
export async function overrideToMirrorProvider(
  dir: string,
  mirror: string | undefined,
): Promise<string | undefined> {
  const version = validationProviderVersion(mirror, AWS_PROVIDER_CONSTRAINT);
  if (version !== undefined) await overrideProviderVersion(dir, version);
  return version;
}
