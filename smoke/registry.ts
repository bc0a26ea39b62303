import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import type { StageOutputs } from "../functions/contract.js";
import { awsClientConfig } from "./aws-access.js";
import { ExpectedError } from "./errors.js";

/**
 * Reading the local stage's connection registry (one S3 object per open connection) through its S3
 * stand-in. Deployed stages are not read: a developer's credentials need not reach the bucket.
 */

/** The keys under the registry prefix, every page of them. */
export async function registryKeys(
  outputs: StageOutputs,
  options: { timeoutMs?: number } = {},
): Promise<string[]> {
  const endpoint = outputs.endpoints?.s3;
  if (endpoint === undefined) {
    throw new ExpectedError(
      `The registry of ${outputs.stage} is only read for the local stage (it has no S3 endpoint in its outputs).`,
    );
  }
  const client = new S3Client(awsClientConfig(outputs, "s3"));
  const keys: string[] = [];
  try {
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({
          Bucket: outputs.connectionsBucket,
          Prefix: outputs.connectionsPrefix,
          ...(token === undefined ? {} : { ContinuationToken: token }),
        }),
        options.timeoutMs === undefined
          ? {}
          : { abortSignal: AbortSignal.timeout(options.timeoutMs) },
      );
      for (const object of page.Contents ?? []) if (object.Key !== undefined) keys.push(object.Key);
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  } catch (error) {
    throw new ExpectedError(
      `Cannot list the registry s3://${outputs.connectionsBucket}/${outputs.connectionsPrefix} at ${endpoint}: ${(error as Error).message}`,
      { cause: error },
    );
  } finally {
    client.destroy();
  }
  return keys;
}
