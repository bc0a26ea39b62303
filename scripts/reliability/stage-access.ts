import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { LOCAL, type StageOutputs } from "../../functions/contract.js";
import { connectionIdFromKey } from "../../functions/lib/registry.js";

/** The local stage's topic and registry, as a client of the stage reaches them. */
export class StageAccess {
  private readonly sns: SNSClient;
  private readonly s3: S3Client;

  constructor(
    private readonly outputs: StageOutputs,
    credentials: { readonly accessKeyId: string; readonly secretAccessKey: string },
  ) {
    const region = outputs.region || LOCAL.region;
    this.sns = new SNSClient({ region, endpoint: outputs.endpoints?.sns, credentials });
    this.s3 = new S3Client({
      region,
      endpoint: outputs.endpoints?.s3,
      forcePathStyle: true,
      credentials,
    });
  }

  async publish(message: string): Promise<void> {
    await this.sns.send(new PublishCommand({ TopicArn: this.outputs.topicArn, Message: message }));
  }

  /** The connection ids the registry holds. */
  async registered(): Promise<Set<string>> {
    const ids = new Set<string>();
    let token: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({
          Bucket: this.outputs.connectionsBucket,
          Prefix: this.outputs.connectionsPrefix,
          ContinuationToken: token,
        }),
      );
      for (const object of page.Contents ?? []) {
        const id = connectionIdFromKey(this.outputs.connectionsPrefix, object.Key ?? "");
        // A key that is not a connection's still counts: the registry must hold nothing else.
        ids.add(id ?? `(not a connection: ${object.Key})`);
      }
      token = page.NextContinuationToken;
    } while (token !== undefined);
    return ids;
  }

  close(): void {
    this.sns.destroy();
    this.s3.destroy();
  }
}
