import { type MessageAttributeValue, PublishCommand, type SNSClient } from "@aws-sdk/client-sns";
import type { TopicPublisher } from "./topic-publisher.js";

/**
 * The publisher built on the SDK client: the reference topic-publisher.ts is held to, and what the
 * handler tests install behind aws-sdk-client-mock. The functions do not bundle it (the SNS
 * client's size: see topic-publisher.ts).
 */
export class SdkTopicPublisher implements TopicPublisher {
  constructor(private readonly sns: SNSClient) {}

  async publish(
    topicArn: string,
    message: string,
    attributes: Record<string, MessageAttributeValue>,
  ): Promise<string | undefined> {
    const output = await this.sns.send(
      new PublishCommand({ TopicArn: topicArn, Message: message, MessageAttributes: attributes }),
    );
    return output.MessageId;
  }
}
