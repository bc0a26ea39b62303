import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ARTIFACTS, FUNCTION_NAMES } from "../functions/contract.js";
import { BundleNotFoundError, readBundles } from "./bundle.js";
import { writeFakeBundle } from "./synthesized-fixture.js";

describe("readBundles", () => {
  let distDir: string;
  beforeEach(() => {
    distDir = mkdtempSync(join(tmpdir(), "websocket-stages-bundle-"));
  });
  afterEach(() => rmSync(distDir, { recursive: true, force: true }));

  it("tells the user to run npm run bundle when there is no manifest", () => {
    expect(() => readBundles(distDir)).toThrow(BundleNotFoundError);
    expect(() => readBundles(distDir)).toThrow(
      /manifest\.json is missing\. Run `npm run bundle` first/,
    );
  });

  it("resolves each zip next to the manifest and gives its digest in base64", () => {
    const manifest = writeFakeBundle(distDir);
    const bundles = readBundles(distDir);
    for (const fn of FUNCTION_NAMES) {
      expect(bundles[fn].zip).toBe(join(distDir, `${fn}${ARTIFACTS.zipExtension}`));
      expect(Buffer.from(bundles[fn].sha256Base64, "base64").toString("hex")).toBe(
        manifest.functions[fn].sha256,
      );
    }
  });

  it("names the zip that the manifest lists but is missing", () => {
    writeFakeBundle(distDir);
    unlinkSync(join(distDir, `message${ARTIFACTS.zipExtension}`));
    expect(() => readBundles(distDir)).toThrow(/message\.zip .*is missing\. Run `npm run bundle`/);
  });

  it("refuses a manifest without every function", () => {
    writeFileSync(join(distDir, ARTIFACTS.manifestFile), JSON.stringify({ functions: {} }));
    expect(() => readBundles(distDir)).toThrow(/has no bundle for "connect"/);
  });
});
