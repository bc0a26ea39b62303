import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";

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
): Promise<{ env: NodeJS.ProcessEnv; providerSource: string }> {
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
  };
}
