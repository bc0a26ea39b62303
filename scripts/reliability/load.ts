import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import pLimit from "p-limit";
import { LOCAL, type StageOutputs } from "../../functions/contract.js";
import { RecordingClient } from "./client.js";

/**
 * Load with accounting: `clients` connections, `messages` messages with unique ids from mixed
 * sources (SNS publishes and client broadcasts, alternately), a share of the clients killed
 * without a close frame halfway. Every survivor must receive every id exactly once; after the
 * next fan-out the registry must hold exactly the survivors, and none once they have left.
 */

export interface LoadOptions {
  readonly clients: number;
  readonly messages: number;
  /** Share of clients killed mid-run, 0–1. */
  readonly killShare: number;
  /** Messages sent but not yet seen by every survivor, at most. */
  readonly inFlight: number;
  /** Connections opened at once. */
  readonly connectConcurrency: number;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** Resolves once every closed connection's $disconnect has finished. */
  readonly disconnectsSettled: () => Promise<void>;
}

export interface LoadReport {
  readonly clients: number;
  /** Connections whose handshake the stage refused (their $connect failed). */
  readonly refused: number;
  readonly killed: number;
  readonly messagesSent: number;
  /** Survivors × messages: what had to arrive. */
  readonly expected: number;
  readonly received: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly staleAfterNextFanOut: number;
  readonly registryAfterAllLeft: number;
  readonly seconds: number;
}

/** How long delivery may make no progress before what is missing counts as lost. */
const STALL_MS = 60_000;

function messageIds(frame: Buffer): string[] {
  return frame.toString("utf8").match(/load-\d+-\d+/g) ?? [];
}

export async function loadRun(
  outputs: StageOutputs,
  options: LoadOptions,
  onProgress: (line: string) => void,
): Promise<LoadReport> {
  const started = performance.now();
  const run = Date.now();
  const open = pLimit(options.connectConcurrency);
  const opened = await Promise.allSettled(
    Array.from({ length: options.clients }, () =>
      open(() => RecordingClient.open(outputs.websocketUrl)),
    ),
  );
  // A refused handshake is reported, not fatal: the run goes on with the clients that connected.
  const clients = opened.flatMap((o) => (o.status === "fulfilled" ? [o.value] : []));
  const refused = opened.length - clients.length;
  const killCount = Math.floor(clients.length * options.killShare);
  const doomed = clients.slice(0, killCount);
  const survivors = clients.slice(killCount);
  const watcher = survivors[0];
  if (watcher === undefined) throw new Error("The load run needs at least one survivor.");
  const region = outputs.region || LOCAL.region;
  const sns = new SNSClient({
    region,
    endpoint: outputs.endpoints?.sns,
    credentials: options.credentials,
  });
  const s3 = new S3Client({
    region,
    endpoint: outputs.endpoints?.s3,
    forcePathStyle: true,
    credentials: options.credentials,
  });
  const seenByWatcher = new Set<string>();
  const watched = () => {
    for (const frame of watcher.received.slice(seenByWatcher.size)) {
      for (const id of messageIds(frame)) seenByWatcher.add(id);
    }
    return seenByWatcher.size;
  };
  const ids = Array.from({ length: options.messages }, (_, i) => `load-${run}-${i}`);
  for (const [i, id] of ids.entries()) {
    if (i === Math.floor(options.messages / 2)) {
      for (const client of doomed) client.socket.terminate();
    }
    // Keep at most `inFlight` messages ahead of the first survivor.
    await watcher.until(() => watched() >= i - options.inFlight + 1, STALL_MS);
    if (i % 2 === 0) {
      await sns.send(
        new PublishCommand({ TopicArn: outputs.topicArn, Message: JSON.stringify({ id }) }),
      );
    } else {
      const sender = survivors[(i * 7919) % survivors.length] as RecordingClient;
      sender.send(Buffer.from(JSON.stringify({ action: "broadcast", message: { id } })), false);
    }
    onProgress(`load: sent ${i + 1}/${options.messages}, first survivor has ${watched()}`);
  }
  const receivedBy = (client: RecordingClient) => client.received.flatMap(messageIds);
  const arrived = () => survivors.reduce((sum, client) => sum + receivedBy(client).length, 0);
  // Wait while deliveries keep arriving; what has not arrived after a stall of STALL_MS is lost.
  for (let before = -1; arrived() !== before && arrived() < survivors.length * ids.length; ) {
    before = arrived();
    onProgress(`load: ${before}/${survivors.length * ids.length} deliveries arrived`);
    await Promise.all(
      survivors.map((client) =>
        client.until(() => receivedBy(client).length >= ids.length, STALL_MS),
      ),
    );
  }
  let received = 0;
  let lost = 0;
  let duplicated = 0;
  for (const client of survivors) {
    const counts = new Map<string, number>();
    for (const id of receivedBy(client)) counts.set(id, (counts.get(id) ?? 0) + 1);
    for (const id of ids) {
      const count = counts.get(id) ?? 0;
      received += count;
      if (count === 0) lost += 1;
      if (count > 1) duplicated += count - 1;
    }
  }
  const registrySize = async () => {
    let count = 0;
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({
          Bucket: outputs.connectionsBucket,
          Prefix: outputs.connectionsPrefix,
          ContinuationToken: token,
        }),
      );
      count += page.KeyCount ?? 0;
      token = page.NextContinuationToken;
    } while (token !== undefined);
    return count;
  };
  // The next fan-out meets the killed clients' ids as Gone and removes them.
  const next = `load-${run}-${ids.length}`;
  await sns.send(
    new PublishCommand({ TopicArn: outputs.topicArn, Message: JSON.stringify({ id: next }) }),
  );
  await Promise.all(
    survivors.map((client) => client.until(() => receivedBy(client).includes(next), STALL_MS)),
  );
  const staleAfterNextFanOut = await registrySize();
  await Promise.all(
    survivors.map(async (client) => {
      client.socket.close(1000);
      await client.until(() => client.closeCode !== undefined, STALL_MS);
    }),
  );
  await options.disconnectsSettled();
  const registryAfterAllLeft = await registrySize();
  sns.destroy();
  s3.destroy();
  return {
    clients: options.clients,
    refused,
    killed: killCount,
    messagesSent: ids.length,
    expected: survivors.length * ids.length,
    received,
    lost,
    duplicated,
    staleAfterNextFanOut: staleAfterNextFanOut - survivors.length,
    registryAfterAllLeft,
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
}
