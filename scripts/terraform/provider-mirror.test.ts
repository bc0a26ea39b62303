import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AWS_PROVIDER_CONSTRAINT } from "../../stacks/websocket-stack.js";
import {
  mirroredAwsVersions,
  PROVIDER_MIRROR_ENV,
  satisfiesPessimistic,
  terraformEnvironment,
  validationProviderVersion,
} from "./provider-mirror.js";

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

describe("validationProviderVersion", () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "websocket-stages-mirror-"));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));
  const mirrorWith = (...entries: string[]) => {
    const dir = join(root, "registry.terraform.io", "hashicorp", "aws");
    for (const entry of entries) {
      if (entry.endsWith(".zip")) {
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, entry), "");
      } else mkdirSync(join(dir, entry, "linux_amd64"), { recursive: true });
    }
    return root;
  };

  it("reads unpacked and packed mirror layouts", () => {
    mirrorWith("5.100.0", "terraform-provider-aws_6.25.0_linux_amd64.zip");
    expect(mirroredAwsVersions(root)).toEqual(["5.100.0", "6.25.0"]);
  });

  it("replaces the 6.x pin with the mirror's 5.100.0 for validation only when nothing else fits", () => {
    expect(validationProviderVersion(mirrorWith("5.100.0"), AWS_PROVIDER_CONSTRAINT)).toBe(
      "5.100.0",
    );
  });

  it("keeps the pin when the mirror holds a version it admits, or providers come from the registry", () => {
    expect(
      validationProviderVersion(mirrorWith("5.100.0", "6.30.1"), AWS_PROVIDER_CONSTRAINT),
    ).toBe(undefined);
    expect(validationProviderVersion(undefined, AWS_PROVIDER_CONSTRAINT)).toBeUndefined();
  });

  it("reads ~> MAJOR.MINOR as Terraform does", () => {
    expect(satisfiesPessimistic("6.25.0", "~> 6.25")).toBe(true);
    expect(satisfiesPessimistic("6.40.2", "~> 6.25")).toBe(true);
    expect(satisfiesPessimistic("6.24.9", "~> 6.25")).toBe(false);
    expect(satisfiesPessimistic("7.0.0", "~> 6.25")).toBe(false);
    expect(satisfiesPessimistic("5.100.0", "~> 6.25")).toBe(false);
  });
});
