import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket/index.js";
import { S3BucketLifecycleConfiguration } from "@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration/index.js";
import { S3BucketOwnershipControls } from "@cdktf/provider-aws/lib/s3-bucket-ownership-controls/index.js";
import { S3BucketPolicy } from "@cdktf/provider-aws/lib/s3-bucket-policy/index.js";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block/index.js";
import { S3BucketServerSideEncryptionConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration/index.js";
import { Construct } from "constructs";
import { type DeployedStage, resourceNames } from "../functions/contract.js";
import { policyDocument } from "./permissions.js";

/**
 * The connection registry: a private bucket holding one object per open connection under a
 * prefix. Objects older than a day expire, a safety net for `$disconnect`s that never ran
 * (API Gateway closes every connection after two hours).
 */
export class RegistryBucket extends Construct {
  readonly bucket: S3Bucket;
  readonly prefix: string;

  constructor(scope: Construct, id: string, props: { stage: DeployedStage; prefix: string }) {
    super(scope, id);
    this.prefix = props.prefix;
    this.bucket = new S3Bucket(this, "bucket", {
      bucketPrefix: resourceNames(props.stage).registryBucketPrefix,
      // Its objects only describe connections that die with the stage: never block a destroy.
      forceDestroy: true,
    });
    const bucket = this.bucket.id;

    const publicAccess = new S3BucketPublicAccessBlock(this, "public-access", {
      bucket,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    new S3BucketOwnershipControls(this, "ownership", {
      bucket,
      rule: { objectOwnership: "BucketOwnerEnforced" },
    });
    new S3BucketServerSideEncryptionConfigurationA(this, "encryption", {
      bucket,
      rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }],
    });
    new S3BucketPolicy(this, "tls-only", {
      bucket,
      policy: policyDocument([
        {
          Sid: "DenyInsecureTransport",
          Effect: "Deny",
          Principal: "*",
          Action: "s3:*",
          Resource: [this.bucket.arn, `${this.bucket.arn}/*`],
          Condition: { Bool: { "aws:SecureTransport": "false" } },
        },
      ]),
      // S3 rejects a bucket policy while the public access block is still being applied.
      dependsOn: [publicAccess],
    });
    new S3BucketLifecycleConfiguration(this, "expiry", {
      bucket,
      rule: [
        {
          id: "expire-stale-connections",
          status: "Enabled",
          filter: [{ prefix: props.prefix }],
          expiration: [{ days: 1 }],
        },
      ],
    });
  }
}
