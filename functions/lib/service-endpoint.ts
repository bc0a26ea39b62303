/**
 * Where the SDK would send a call to an AWS service, from the same variables it reads, for the
 * requests the functions sign themselves (lambda-invoker.ts, topic-publisher.ts): the
 * service-specific AWS_ENDPOINT_URL_<SERVICE> (the local stage sets one per service), else
 * AWS_ENDPOINT_URL, else the service's regional endpoint. AWS_IGNORE_CONFIGURED_ENDPOINT_URLS
 * set to "true" skips both variables, as it does for the SDK.
 */

/** The services the functions call without an SDK client, by the SDK's endpoint prefix. */
export type SignedService = "lambda" | "sns";

/**
 * `purpose` completes "No region to …" in the error a missing region gives, e.g. "invoke the
 * fan-out worker in".
 */
export function serviceEndpoint(
  service: SignedService,
  purpose: string,
  env: NodeJS.ProcessEnv = process.env,
): URL {
  const configured =
    env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS === "true"
      ? undefined
      : (env[`AWS_ENDPOINT_URL_${service.toUpperCase()}`] ?? env.AWS_ENDPOINT_URL);
  if (configured !== undefined && configured !== "") return new URL(configured);
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (region === undefined || region === "") {
    throw new Error(`No region to ${purpose}: AWS_REGION is not set. Set AWS_REGION.`);
  }
  return new URL(`https://${service}.${region}.amazonaws.com`);
}
