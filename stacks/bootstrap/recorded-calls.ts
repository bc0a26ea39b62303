/**
 * The AWS calls Terraform makes on a stage's stack, as IAM sees them: recorded from Terraform's
 * debug log against moto (`npm run bootstrap:calls`), kept as a fixture, and evaluated against the
 * pipeline roles' policies by the simulation tests.
 */
export interface RecordedCall {
  /** apply: first deploy; update: a deploy changing code and settings; plan: a plan of the
   * deployed stage; destroy: taking it down. */
  readonly phase: "apply" | "update" | "plan" | "destroy";
  /** The API operation as the SDK logged it, e.g. "S3 PutBucketPolicy". */
  readonly operation: string;
  /** The IAM action it needs. */
  readonly action: string;
  /** The resource ARN as a template: {account}, {region}, {stage}, {state-bucket}, and
   * {suffix}/{apis-id}/{routes-id}/{integrations-id} for names AWS assigns. */
  readonly resource: string;
  /** Request context keys IAM conditions may read (e.g. iam:PassedToService, s3:prefix). */
  readonly context?: Readonly<Record<string, string>>;
}

export interface CallFixture {
  readonly recordedWith: { readonly terraform: string; readonly provider: string };
  readonly calls: readonly RecordedCall[];
}

/** Fills a recorded template in for a stage living in `account` and `region`. */
export function concreteArn(
  template: string,
  values: {
    readonly account: string;
    readonly region: string;
    readonly stage: string;
    readonly stateBucket: string;
  },
): string {
  return template
    .replaceAll("{account}", values.account)
    .replaceAll("{region}", values.region)
    .replaceAll("{stage}", values.stage)
    .replaceAll("{state-bucket}", values.stateBucket)
    .replaceAll("{suffix}", "20260101000000000000000001")
    .replaceAll("{apis-id}", "a1b2c3d4e5")
    .replaceAll("{routes-id}", "r1s2t3u4")
    .replaceAll("{integrations-id}", "i1j2k3l4");
}
