import { InvokeCommand, type LambdaClient } from "@aws-sdk/client-lambda";
import type { ShardInvoker } from "./shards.js";

/**
 * The invoker built on the SDK client: the reference lambda-invoker.ts is held to, and what the
 * handler tests install behind aws-sdk-client-mock. The functions do not bundle it (the Lambda
 * client's size: see lambda-invoker.ts).
 */
/** Asynchronous invocation through the Lambda API (202 Accepted: Lambda's queue has it). */
export class SdkShardInvoker implements ShardInvoker {
  constructor(private readonly lambda: LambdaClient) {}

  async invoke(functionName: string, payload: string): Promise<void> {
    const output = await this.lambda.send(
      new InvokeCommand({
        FunctionName: functionName,
        InvocationType: "Event",
        Payload: Buffer.from(payload, "utf8"),
      }),
    );
    if (output.StatusCode !== 202) {
      throw new Error(
        `Lambda answered the asynchronous invoke of ${functionName} with ${output.StatusCode}, not 202`,
      );
    }
  }
}
