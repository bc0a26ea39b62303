import { IamOpenidConnectProvider } from "@cdktf/provider-aws/lib/iam-openid-connect-provider/index.js";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role/index.js";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy/index.js";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider/index.js";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket/index.js";
import { S3BucketLifecycleConfiguration } from "@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration/index.js";
import { S3BucketOwnershipControls } from "@cdktf/provider-aws/lib/s3-bucket-ownership-controls/index.js";
import { S3BucketPolicy } from "@cdktf/provider-aws/lib/s3-bucket-policy/index.js";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block/index.js";
import { S3BucketServerSideEncryptionConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration/index.js";
import { S3BucketVersioningA } from "@cdktf/provider-aws/lib/s3-bucket-versioning/index.js";
import { LocalBackend, TerraformOutput, TerraformStack } from "cdktf";
import type { Construct } from "constructs";
import { type DeployedStage, PROJECT } from "../../functions/contract.js";
import { policyDocument } from "../permissions.js";
import { GITHUB_OIDC, PIPELINE_ROLE_KINDS, pipelineRoleName } from "../pipeline.js";
import { STAGE_SETTINGS } from "../stages.js";
import { AWS_PROVIDER_CONSTRAINT } from "../websocket-stack.js";
import { pipelineStatements, type StageTarget, trustPolicy } from "./policies.js";

/** Days a replaced or deleted state version is kept before S3 expires it. */
export const DEFAULT_NONCURRENT_VERSION_DAYS = 90;

export interface BootstrapStackProps {
  /** The 12-digit account this stack is applied to (the provider refuses any other). */
  readonly account: string;
  /** The GitHub repository (OWNER/NAME) whose workflows may assume the roles. */
  readonly repository: string;
  /** The stages living in this account (bootstrapAccounts groups them). */
  readonly stages: readonly DeployedStage[];
  /** Region of the state bucket (and of the provider): the first stage's. */
  readonly region: string;
  /** The account's existing GitHub OIDC provider; unset: this stack creates it. */
  readonly oidcProviderArn?: string;
  readonly noncurrentVersionDays?: number;
  /** Where the stack's own state lives, relative to the synthesized stack's folder. */
  readonly localStatePath: string;
}

/** The state bucket of an account: globally unique through account and region. */
export function stateBucketName(account: string, region: string): string {
  return `${PROJECT}-tfstate-${account}-${region}`;
}

/** Name of the bootstrap stack of an account (and so of its synthesized folder). */
export function bootstrapStackName(account: string): string {
  return `${PROJECT}-bootstrap-${account}`;
}

/**
 * What one AWS account needs before the pipeline can deploy to it: the Terraform state bucket, the
 * GitHub OIDC provider (or a reference to the account's existing one), and per stage living here
 * a deploy role and a plan role, trusted only by this repository's workflow jobs.
 */
export class BootstrapStack extends TerraformStack {
  constructor(scope: Construct, id: string, props: BootstrapStackProps) {
    super(scope, id);
    new AwsProvider(this, "aws", {
      region: props.region,
      allowedAccountIds: [props.account],
      defaultTags: [{ tags: { project: PROJECT, purpose: "pipeline-bootstrap" } }],
    });
    this.addOverride("terraform.required_providers.aws", {
      source: "hashicorp/aws",
      version: AWS_PROVIDER_CONSTRAINT,
    });
    new LocalBackend(this, { path: props.localStatePath });

    const bucketName = stateBucketName(props.account, props.region);
    const bucket = this.stateBucket(
      bucketName,
      props.noncurrentVersionDays ?? DEFAULT_NONCURRENT_VERSION_DAYS,
    );
    const providerArn =
      props.oidcProviderArn ??
      new IamOpenidConnectProvider(this, "github-oidc", {
        url: GITHUB_OIDC.url,
        clientIdList: [GITHUB_OIDC.audience],
      }).arn;

    const roleArns: Record<string, Record<string, string>> = { deploy: {}, plan: {} };
    for (const stage of props.stages) {
      const target: StageTarget = {
        stage,
        account: props.account,
        region: STAGE_SETTINGS[stage].region,
        stateBucket: bucketName,
        ownsApiGatewayAccountRole: STAGE_SETTINGS[stage].apiGatewayAccountRole,
      };
      for (const kind of PIPELINE_ROLE_KINDS) {
        const role = new IamRole(this, `${stage}-${kind}-role`, {
          name: pipelineRoleName(stage, kind),
          description: `GitHub Actions ${kind} role of ${PROJECT} ${stage} (${props.repository}).`,
          assumeRolePolicy: JSON.stringify(trustPolicy(providerArn, props.repository, stage, kind)),
        });
        new IamRolePolicy(this, `${stage}-${kind}-policy`, {
          name: kind,
          role: role.id,
          policy: policyDocument(pipelineStatements(target, kind)),
        });
        (roleArns[kind] as Record<string, string>)[stage] = role.arn;
      }
    }

    const output = (name: string, value: unknown) =>
      new TerraformOutput(this, name, { value, staticId: true });
    output("deployRoleArns", roleArns.deploy);
    output("planRoleArns", roleArns.plan);
    output("stateBucket", bucket.bucket);
    output("stateRegion", props.region);
    output(
      "regions",
      Object.fromEntries(props.stages.map((stage) => [stage, STAGE_SETTINGS[stage].region])),
    );
    output("oidcProviderArn", providerArn);
  }

  private stateBucket(name: string, noncurrentDays: number): S3Bucket {
    const bucket = new S3Bucket(this, "state", { bucket: name });
    const publicAccess = new S3BucketPublicAccessBlock(this, "state-public-access", {
      bucket: bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    new S3BucketOwnershipControls(this, "state-ownership", {
      bucket: bucket.id,
      rule: { objectOwnership: "BucketOwnerEnforced" },
    });
    new S3BucketVersioningA(this, "state-versioning", {
      bucket: bucket.id,
      versioningConfiguration: { status: "Enabled" },
    });
    new S3BucketServerSideEncryptionConfigurationA(this, "state-encryption", {
      bucket: bucket.id,
      rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }],
    });
    new S3BucketLifecycleConfiguration(this, "state-noncurrent-expiry", {
      bucket: bucket.id,
      rule: [
        {
          id: "expire-old-state-versions",
          status: "Enabled",
          filter: [{ prefix: "" }],
          noncurrentVersionExpiration: [{ noncurrentDays }],
          abortIncompleteMultipartUpload: [{ daysAfterInitiation: 7 }],
        },
      ],
    });
    new S3BucketPolicy(this, "state-tls-only", {
      bucket: bucket.id,
      policy: policyDocument([
        {
          Sid: "DenyInsecureTransport",
          Effect: "Deny",
          Principal: "*",
          Action: "s3:*",
          Resource: [bucket.arn, `${bucket.arn}/*`],
          Condition: { Bool: { "aws:SecureTransport": "false" } },
        },
      ]),
      dependsOn: [publicAccess],
    });
    return bucket;
  }
}
