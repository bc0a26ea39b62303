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

/**
 * Calls the deploy role must allow that the recording cannot make, each with why. The simulation
 * evaluates them exactly like recorded ones.
 */
export const CALLS_BEYOND_THE_RECORDING: readonly (RecordedCall & { readonly why: string })[] = [
  {
    phase: "update",
    operation: "ApiGatewayV2 UpdateStage",
    action: "apigateway:PATCH",
    resource: "arn:aws:apigateway:{region}::/apis/{apis-id}/stages/{stage}",
    why: "a change of the stage's throttling or access logs; moto 5.2 answers UpdateStage with a 500, so the recorded update leaves them alone",
  },
  {
    phase: "update",
    operation: "ApiGatewayV2 UpdateIntegration",
    action: "apigateway:PATCH",
    resource: "arn:aws:apigateway:{region}::/apis/{apis-id}/integrations/{integrations-id}",
    why: "a change of an integration (its timeout is a contract constant the recording cannot vary)",
  },
  {
    phase: "update",
    operation: "SNS Publish (smoke test)",
    action: "sns:Publish",
    resource: "arn:aws:sns:{region}:{account}:websocket-stages-{stage}",
    why: "not Terraform: the deploy job's smoke test publishes to the stage's topic",
  },
];
