import { readFile } from "node:fs/promises";
import { IAMClient, ListOpenIDConnectProvidersCommand } from "@aws-sdk/client-iam";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { ExpectedError } from "../../smoke/errors.js";
import { GITHUB_OIDC } from "../../stacks/pipeline.js";

/** The account of the credentials the AWS SDK finds (environment, profile, SSO…). */
export async function callerAccount(sts: STSClient = new STSClient({})): Promise<string> {
  try {
    const identity = await sts.send(new GetCallerIdentityCommand({}));
    if (identity.Account === undefined) throw new Error("STS returned no account");
    return identity.Account;
  } catch (error) {
    throw new ExpectedError(
      `No usable AWS credentials (${(error as Error).message}). The bootstrap creates IAM roles and a bucket: run it with administrator credentials of the target account, e.g. \`aws sso login --profile admin\` then \`AWS_PROFILE=admin npm run bootstrap -- …\`.`,
      { cause: error },
    );
  } finally {
    sts.destroy();
  }
}

/** The ARN of the account's GitHub Actions OIDC provider, if it has one (one per URL allowed). */
export async function githubOidcProvider(
  iam: IAMClient = new IAMClient({}),
): Promise<string | undefined> {
  try {
    const listed = await iam.send(new ListOpenIDConnectProvidersCommand({}));
    return listed.OpenIDConnectProviderList?.map((entry) => entry.Arn ?? "").find((arn) =>
      arn.endsWith(`:oidc-provider/${GITHUB_OIDC.host}`),
    );
  } finally {
    iam.destroy();
  }
}

/** Whether a bootstrap state file already manages `arn` (a re-run, not a foreign provider). */
export async function stateManages(stateFile: string, arn: string): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(stateFile, "utf8");
  } catch {
    return false;
  }
  const state = JSON.parse(text) as {
    resources?: { type: string; instances?: { attributes?: { arn?: string } }[] }[];
  };
  return (state.resources ?? []).some(
    (resource) =>
      resource.type === "aws_iam_openid_connect_provider" &&
      (resource.instances ?? []).some((instance) => instance.attributes?.arn === arn),
  );
}

/**
 * Refuses to create a second GitHub OIDC provider: AWS allows one per URL, and one the bootstrap
 * does not manage must be referenced (`--oidc-provider-arn`), never replaced.
 */
export async function checkOidcProvider(options: {
  readonly referenced: string | undefined;
  readonly existing: string | undefined;
  readonly stateFile: string;
}): Promise<void> {
  const { referenced, existing, stateFile } = options;
  if (referenced !== undefined) {
    if (
      !/^arn:aws[a-z-]*:iam::\d{12}:oidc-provider\/token\.actions\.githubusercontent\.com$/.test(
        referenced,
      )
    ) {
      throw new ExpectedError(
        `--oidc-provider-arn ${referenced} is not the ARN of a GitHub Actions OIDC provider (arn:aws:iam::ACCOUNT:oidc-provider/${GITHUB_OIDC.host}).`,
        { exitCode: 2 },
      );
    }
    if (existing !== undefined && existing !== referenced) {
      throw new ExpectedError(
        `--oidc-provider-arn ${referenced} does not exist in this account; its GitHub OIDC provider is ${existing}: pass that.`,
        { exitCode: 2 },
      );
    }
    return;
  }
  if (existing !== undefined && !(await stateManages(stateFile, existing))) {
    throw new ExpectedError(
      `This account already has a GitHub OIDC provider (${existing}), not created by this bootstrap; AWS allows only one. Run again with \`--oidc-provider-arn ${existing}\` to use it. Check that its audiences include ${GITHUB_OIDC.audience}.`,
    );
  }
}
