import type { StageOutputs } from "../functions/contract.js";

/**
 * How the smoke tools' SDK clients reach a stage's AWS services. The local stage's stand-ins listen
 * at outputs.endpoints and take any credentials: fixed ones keep a developer's real ones away from
 * them. Deployed stages get only the region, so the standard credential chain applies.
 */
export function awsClientConfig(outputs: StageOutputs, service: "s3" | "sns") {
  const local = outputs.endpoints;
  if (local === undefined) return { region: outputs.region };
  return {
    region: outputs.region,
    endpoint: local[service],
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    // The S3 stand-in serves path-style requests: no bucket.host names to resolve.
    ...(service === "s3" ? { forcePathStyle: true } : {}),
  };
}
