import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { IAMClient, ListOpenIDConnectProvidersCommand } from "@aws-sdk/client-iam";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, describe, expect, it } from "vitest";
import { callerAccount, checkOidcProvider, githubOidcProvider } from "./aws-account.js";

/** `npm run bootstrap`'s refusals, as a user meets them (through tsx, no AWS, no terraform). */

const root = dirname(dirname(dirname(new URL(import.meta.url).pathname)));
const tsx = join(root, "node_modules", ".bin", "tsx");
const scratch = mkdtempSync(join(tmpdir(), "websocket-stages-bootstrap-cli-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** An environment where the AWS SDK finds no credentials at all, quickly. */
const NO_CREDENTIALS: NodeJS.ProcessEnv = {
  PATH: process.env.PATH,
  HOME: scratch,
  AWS_CONFIG_FILE: join(scratch, "none"),
  AWS_SHARED_CREDENTIALS_FILE: join(scratch, "none"),
  AWS_EC2_METADATA_DISABLED: "true",
  AWS_REGION: "eu-west-1",
};

function bootstrap(args: string[]) {
  const result = spawnSync(tsx, [join(root, "scripts", "bootstrap", "main.ts"), ...args], {
    cwd: root,
    env: NO_CREDENTIALS,
    encoding: "utf8",
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("npm run bootstrap", () => {
  it("refuses without --repo, or with one that is not OWNER/NAME (exit 2)", () => {
    const missing = bootstrap([]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--repo OWNER\/NAME/);
    const malformed = bootstrap(["--repo", "acme/chat:environment:prod"]);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/is not a GitHub repository: use OWNER\/NAME/);
  });

  it("refuses clearly when there are no AWS credentials", () => {
    const result = bootstrap(["--repo", "acme/chat", "--yes"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^No usable AWS credentials/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it("documents itself", () => {
    const result = bootstrap(["--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/--oidc-provider-arn ARN/);
  });
});

describe("the GitHub OIDC provider check", () => {
  const arn = "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com";
  const stateFile = join(scratch, "bootstrap.tfstate");

  it("refuses an existing provider the bootstrap did not create, naming the flag to pass", async () => {
    await expect(
      checkOidcProvider({ referenced: undefined, existing: arn, stateFile }),
    ).rejects.toThrow(`--oidc-provider-arn ${arn}`);
  });

  it("accepts it when referenced, or when its own state manages it (a re-run)", async () => {
    await expect(checkOidcProvider({ referenced: arn, existing: arn, stateFile })).resolves.toBe(
      undefined,
    );
    writeFileSync(
      stateFile,
      JSON.stringify({
        resources: [
          { type: "aws_iam_openid_connect_provider", instances: [{ attributes: { arn } }] },
        ],
      }),
    );
    await expect(
      checkOidcProvider({ referenced: undefined, existing: arn, stateFile }),
    ).resolves.toBe(undefined);
    await expect(
      checkOidcProvider({ referenced: undefined, existing: undefined, stateFile }),
    ).resolves.toBe(undefined);
  });

  it("refuses a referenced ARN that is not a GitHub provider or not the account's", async () => {
    await expect(
      checkOidcProvider({
        referenced: "arn:aws:iam::111122223333:role/x",
        existing: arn,
        stateFile,
      }),
    ).rejects.toThrow(/not the ARN of a GitHub Actions OIDC provider/);
    const other = arn.replace("111122223333", "999988887777");
    await expect(
      checkOidcProvider({ referenced: other, existing: arn, stateFile }),
    ).rejects.toThrow(/does not exist in this account/);
  });
});

describe("asking AWS", () => {
  it("finds the account's GitHub OIDC provider among others", async () => {
    const iam = mockClient(IAMClient);
    const github = "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com";
    iam.on(ListOpenIDConnectProvidersCommand).resolves({
      OpenIDConnectProviderList: [
        { Arn: "arn:aws:iam::111122223333:oidc-provider/accounts.google.com" },
        { Arn: github },
      ],
    });
    expect(await githubOidcProvider(new IAMClient({ region: "us-east-1" }))).toBe(github);
    iam.on(ListOpenIDConnectProvidersCommand).resolves({ OpenIDConnectProviderList: [] });
    expect(await githubOidcProvider(new IAMClient({ region: "us-east-1" }))).toBeUndefined();
    iam.restore();
  });

  it("names the caller's account, or says how to get credentials", async () => {
    const sts = mockClient(STSClient);
    sts.on(GetCallerIdentityCommand).resolves({ Account: "111122223333" });
    expect(await callerAccount(new STSClient({ region: "us-east-1" }))).toBe("111122223333");
    sts
      .on(GetCallerIdentityCommand)
      .rejects(new Error("Could not load credentials from any providers"));
    await expect(callerAccount(new STSClient({ region: "us-east-1" }))).rejects.toThrow(
      /^No usable AWS credentials \(Could not load credentials.*aws sso login/,
    );
    sts.restore();
  });
});
