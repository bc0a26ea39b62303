import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PROVIDER_MIRROR_ENV, terraformEnvironment } from "./provider-mirror.js";

describe("terraformEnvironment", () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "websocket-stages-mirror-"));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("writes a CLI config that installs providers from the mirror only", async () => {
    const mirror = join(root, "mirror");
    mkdirSync(join(mirror, "registry.terraform.io", "hashicorp", "aws"), { recursive: true });
    const { env, providerSource } = await terraformEnvironment(join(root, "cli"), {
      [PROVIDER_MIRROR_ENV]: mirror,
    });
    expect(providerSource).toContain(mirror);
    const config = readFileSync(String(env.TF_CLI_CONFIG_FILE), "utf8");
    expect(config).toContain(`filesystem_mirror {\n    path    = ${JSON.stringify(mirror)}`);
    expect(config).toContain('direct { exclude = ["registry.terraform.io/*/*"] }');
  });

  it("leaves an existing CLI config of the user alone", async () => {
    const userConfig = join(root, "user.rc");
    writeFileSync(userConfig, "");
    const { env } = await terraformEnvironment(join(root, "cli"), {
      TF_CLI_CONFIG_FILE: userConfig,
      [PROVIDER_MIRROR_ENV]: root,
    });
    expect(env.TF_CLI_CONFIG_FILE).toBe(userConfig);
  });

  it("falls back to the registry when there is no mirror", async () => {
    const { env, providerSource } = await terraformEnvironment(join(root, "cli"), {
      [PROVIDER_MIRROR_ENV]: join(root, "nothing-here"),
    });
    expect(env.TF_CLI_CONFIG_FILE).toBeUndefined();
    expect(providerSource).toMatch(/registry/);
  });
});
