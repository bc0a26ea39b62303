import { cpus } from "node:os";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import type { SNSEvent } from "aws-lambda";
import { LOCAL, type StageOutputs } from "../../functions/contract.js";
import { ExpectedError } from "../../smoke/errors.js";
import type { PosterVariant } from "./bundle-variants.js";
import type { CpuBreakdown } from "./cpu-profile.js";
import { type CpuTicks, coresBusy, cpuTicks } from "./machine-busy.js";
import { type Audit, benchFrame, passed } from "./receipts.js";
import { type Worker, wallClock } from "./worker.js";

/**
 * The fan-out scenario: N clients on the local stage (opened through `$connect`, which is the
 * connect-rate measurement) and N on a raw `ws` server, then messages fanned out along every path,
 * one message at a time, the paths taking turns so a noisy moment hits them all alike:
 * - raw: the raw `ws` server writes the frame to each of its sockets (the limit);
 * - fast / sdk / sequential: the subscriber bundle with that poster (bundle-variants.ts), in a
 *   function host of its own (function-host.ts: its CPU is the function's), invoked with the SNS
 *   event the stage's topic delivers; it lists the stage's registry and posts to its @connections;
 * - sns: a real SNS Publish to the stage, whose own subscriber (dist/, the deployed code) runs in
 *   the stage's process next to the gateway — end to end, but its CPU cannot be told apart there.
 * Time to last client runs from the trigger to the moment the clients' process has the message
 * on every socket. Every client's receipts are audited at the end.
 */

export type FanOutPath = "raw" | PosterVariant | "sns";

export interface BenchProcesses {
  readonly stage: Worker;
  readonly clients: Worker;
  readonly hosts: ReadonlyMap<PosterVariant, Worker>;
  /**
   * The same function hosts posting through the `--rtt` relay (round-trip.ts), and its round
   * trip; absent when the bench runs on loopback only.
   */
  readonly roundTrip?: {
    readonly rttMs: number;
    readonly hosts: ReadonlyMap<PosterVariant, Worker>;
  };
  readonly outputs: StageOutputs;
  readonly rawUrl: string;
  readonly arrivals: Arrivals;
}

export interface FanOutOptions {
  readonly clients: number;
  readonly messages: number;
  /** Messages per path sent first and left out of the numbers (JIT, first connections); audited. */
  readonly warmUp?: number;
  readonly paths: readonly FanOutPath[];
  /** Wait for the registry to empty after closing (default true: another size follows). */
  readonly drain?: boolean;
  /** Connections opened at once through `$connect`. */
  readonly connectConcurrency?: number;
  readonly onProgress?: (line: string) => void;
}

export interface PathResult {
  readonly path: FanOutPath;
  /** The emulated round trip its posts' answers took (ms); 0 or absent on loopback. */
  readonly rttMs?: number;
  /** Milliseconds from trigger to last client, per message. */
  readonly latenciesMs: readonly number[];
  /** Function CPU per invocation (function-host paths only). */
  readonly cpuMs: readonly number[];
  /** Of which in the kernel (system time): sockets, mostly. */
  readonly systemCpuMs: readonly number[];
  /** Deliveries the function reported, per invocation (function-host paths only). */
  readonly delivered: readonly number[];
  /**
   * Cores the whole machine kept busy from trigger to last client, over the measured messages
   * (undefined where /proc/stat cannot be read).
   */
  readonly coresBusy?: number | undefined;
}

export interface FanOutResult {
  readonly clients: number;
  readonly messages: number;
  readonly connect: ConnectRate;
  readonly paths: readonly PathResult[];
  readonly audits: { readonly stage: Audit; readonly raw: Audit };
  readonly ok: boolean;
}

export interface StageCpu {
  readonly cpuMs: number;
  readonly breakdown: CpuBreakdown | undefined;
}

/** Connections opened through a stage's `$connect`, and what opening them cost each side. */
export interface ConnectRate {
  readonly ms: number;
  readonly perSecond: number;
  /** The stage's process (gateway, invoker, the functions' threads, S3 stand-in). */
  readonly cpu: StageCpu;
  /** The clients' process: the `ws` handshakes alone, user + system. */
  readonly clientCpuMs: number;
}

/**
 * Opens `count` clients on `channel` through the stage's `$connect`, `concurrency` at a time,
 * profiling the stage meanwhile.
 */
export async function openThroughConnect(
  processes: { readonly stage: Worker; readonly clients: Worker },
  url: string,
  channel: string,
  count: number,
  concurrency = 64,
): Promise<ConnectRate> {
  await processes.stage.request("profile", { action: "start" });
  const opened = await processes.clients.request<{ ms: number; cpuMs: number }>("open", {
    channel,
    url,
    count,
    concurrency,
  });
  const cpu = await processes.stage.request<StageCpu>("profile", { action: "stop" });
  return {
    ms: opened.ms,
    perSecond: (count / opened.ms) * 1000,
    cpu,
    clientCpuMs: opened.cpuMs,
  };
}

/** A fan-out that did not finish: the run fails, saying which step stalled. */
export class FanOutStalledError extends ExpectedError {
  override readonly name = "FanOutStalledError";
}

/** How long one message may take to reach every client before the run is failed. */
const ARRIVAL_TIMEOUT_MS = 120_000;

/** Resolves when the clients' process says a channel's message reached every client. */
export class Arrivals {
  private readonly waiting = new Map<string, (at: number) => void>();

  constructor(clients: Worker) {
    clients.on("arrived", (event) => {
      const key = `${String(event.channel)}:${String(event.frame)}`;
      this.waiting.get(key)?.(Number(event.at));
      this.waiting.delete(key);
    });
  }

  expect(channel: string, frame: string): Promise<number> {
    const key = `${channel}:${frame}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(key);
        reject(
          new Error(
            `${frame} did not reach every ${channel} client within ${ARRIVAL_TIMEOUT_MS} ms`,
          ),
        );
      }, ARRIVAL_TIMEOUT_MS);
      this.waiting.set(key, (at) => {
        clearTimeout(timer);
        resolve(at);
      });
    });
  }
}

/** The SNS event the stage's topic hands its subscriber for one published message. */
export function snsEvent(topicArn: string, message: string, seq: number): SNSEvent {
  return {
    Records: [
      {
        EventSource: "aws:sns",
        EventVersion: "1.0",
        EventSubscriptionArn: `${topicArn}:bench`,
        Sns: {
          Type: "Notification",
          MessageId: `bench-${seq}`,
          TopicArn: topicArn,
          Message: message,
          Timestamp: new Date().toISOString(),
          SignatureVersion: "1",
          Signature: "LOCAL",
          SigningCertUrl: "https://sns.local/SimpleNotificationService.pem",
          UnsubscribeUrl: `https://sns.local/?Action=Unsubscribe&TopicArn=${topicArn}`,
          MessageAttributes: {},
        },
      },
    ],
  };
}

function localClient<T>(Client: new (config: object) => T, endpoint: string | undefined): T {
  return new Client({
    endpoint,
    region: LOCAL.region,
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    forcePathStyle: true,
  });
}

/** Waits until the stage's registry is empty (the previous clients' $disconnect all ran). */
async function registryDrained(outputs: StageOutputs, timeoutMs: number): Promise<void> {
  const s3 = localClient(S3Client, outputs.endpoints?.s3);
  const until = Date.now() + timeoutMs;
  try {
    for (;;) {
      const page = await s3.send(
        new ListObjectsV2Command({
          Bucket: outputs.connectionsBucket,
          Prefix: outputs.connectionsPrefix,
          MaxKeys: 1,
        }),
      );
      if ((page.KeyCount ?? 0) === 0) return;
      if (Date.now() > until) {
        throw new Error(
          `the registry still lists connections ${timeoutMs} ms after every client closed`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    s3.destroy();
  }
}

let nextSeq = 1;

export async function fanOutScenario(
  bench: BenchProcesses,
  options: FanOutOptions,
): Promise<FanOutResult> {
  const { clients: count, messages, paths } = options;
  const progress = options.onProgress ?? (() => undefined);
  const stageChannel = `stage-${count}`;
  const rawChannel = `raw-${count}`;

  progress(`N=${count}: opening ${count} connections through $connect`);
  const connect = await openThroughConnect(
    bench,
    bench.outputs.websocketUrl,
    stageChannel,
    count,
    options.connectConcurrency,
  );
  await bench.clients.request("open", {
    channel: rawChannel,
    url: bench.rawUrl,
    count,
    concurrency: 256,
  });

  const sns = localClient(SNSClient, bench.outputs.endpoints?.sns);
  // Every path on loopback, and the function-host paths once more through the round trip.
  const runs: { path: FanOutPath; rttMs: number }[] = paths.map((path) => ({ path, rttMs: 0 }));
  if (bench.roundTrip !== undefined) {
    for (const path of paths) {
      if (bench.roundTrip.hosts.has(path as PosterVariant)) {
        runs.push({ path, rttMs: bench.roundTrip.rttMs });
      }
    }
  }
  const results = new Map<
    { path: FanOutPath; rttMs: number },
    {
      latenciesMs: number[];
      cpuMs: number[];
      systemCpuMs: number[];
      delivered: number[];
      spans: { start: CpuTicks; end: CpuTicks }[];
    }
  >(
    runs.map((run) => [
      run,
      { latenciesMs: [], cpuMs: [], systemCpuMs: [], delivered: [], spans: [] },
    ]),
  );
  const sent = { stage: [] as number[], raw: [] as number[] };
  try {
    const warmUp = options.warmUp ?? 1;
    for (let m = -warmUp; m < messages; m += 1) {
      for (const run of runs) {
        const { path, rttMs } = run;
        const along = rttMs > 0 ? `${path} (RTT ${rttMs} ms)` : path;
        progress(
          m < 0
            ? `N=${count}: warming up along ${along}`
            : `N=${count}: message ${m + 1}/${messages} along ${along}`,
        );
        const seq = nextSeq++;
        const frame = benchFrame(seq);
        const kept = results.get(run);
        if (kept === undefined) throw new Error(`no results kept for ${along}`);
        const result: typeof kept =
          m < 0 ? { latenciesMs: [], cpuMs: [], systemCpuMs: [], delivered: [], spans: [] } : kept;
        const channel = path === "raw" ? rawChannel : stageChannel;
        (path === "raw" ? sent.raw : sent.stage).push(seq);
        const arrived = bench.arrivals.expect(channel, frame);
        const ticksBefore = cpuTicks();
        const started = wallClock();
        if (path === "raw") {
          await bench.stage.request("broadcast", { frame });
        } else if (path === "sns") {
          await sns.send(new PublishCommand({ TopicArn: bench.outputs.topicArn, Message: frame }));
        } else {
          const host = (rttMs > 0 ? bench.roundTrip?.hosts : bench.hosts)?.get(path);
          if (host === undefined) throw new Error(`no function host for ${path}`);
          const invoked = await host.request<{
            cpuMs: number;
            systemCpuMs: number;
            result: { delivered?: number };
          }>("invoke", { event: snsEvent(bench.outputs.topicArn, frame, seq), timeoutMs: 900_000 });
          result.cpuMs.push(invoked.cpuMs);
          result.systemCpuMs.push(invoked.systemCpuMs);
          result.delivered.push(invoked.result.delivered ?? 0);
        }
        result.latenciesMs.push((await arrived) - started);
        const ticksAfter = cpuTicks();
        if (ticksBefore !== undefined && ticksAfter !== undefined) {
          result.spans.push({ start: ticksBefore, end: ticksAfter });
        }
      }
    }
  } finally {
    sns.destroy();
  }

  progress(`N=${count}: auditing every client's receipts`);
  const stageAudit = (
    await bench.clients.request<{ audit: Audit }>("audit", {
      channel: stageChannel,
      seqs: sent.stage,
    })
  ).audit;
  const rawAudit = (
    await bench.clients.request<{ audit: Audit }>("audit", {
      channel: rawChannel,
      seqs: sent.raw,
    })
  ).audit;
  progress(`N=${count}: closing the connections`);
  await bench.clients.request("close", { channel: stageChannel });
  await bench.clients.request("close", { channel: rawChannel });
  // The next size must start from an empty registry; the last one leaves it to the stage's stop.
  if (options.drain !== false) {
    progress(`N=${count}: waiting for every $disconnect`);
    await registryDrained(bench.outputs, 60_000 + count * 50);
  }

  return {
    clients: count,
    messages,
    connect,
    paths: runs.map((run) => {
      const { latenciesMs, cpuMs, systemCpuMs, delivered, spans } = results.get(run) ?? {
        latenciesMs: [],
        cpuMs: [],
        systemCpuMs: [],
        delivered: [],
        spans: [],
      };
      return {
        path: run.path,
        rttMs: run.rttMs,
        latenciesMs,
        cpuMs,
        systemCpuMs,
        delivered,
        coresBusy: coresBusy(spans, cpus().length),
      };
    }),
    audits: { stage: stageAudit, raw: rawAudit },
    ok: passed(stageAudit) && passed(rawAudit),
  };
}
