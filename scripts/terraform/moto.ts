import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { ExpectedError } from "../../smoke/errors.js";

/** A running moto_server: an AWS API emulator on 127.0.0.1. */
export interface Moto {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** The services the stacks use, each pointed at the emulator. */
const EMULATED_SERVICES = [
  "apigateway",
  "apigatewayv2",
  "cloudwatch",
  "cloudwatchlogs",
  "iam",
  "lambda",
  "s3",
  "sns",
  "sqs",
  "sts",
] as const;

/** AWS provider settings (for an override file) that send every call to moto at `endpoint`. */
export function motoProvider(endpoint: string): Record<string, unknown> {
  return {
    access_key: "testing",
    secret_key: "testing",
    skip_credentials_validation: true,
    skip_metadata_api_check: true,
    skip_requesting_account_id: true,
    s3_use_path_style: true,
    endpoints: [Object.fromEntries(EMULATED_SERVICES.map((service) => [service, endpoint]))],
  };
}

/** The account moto answers as. */
export const MOTO_ACCOUNT = "123456789012";

const STARTUP_TIMEOUT_MS = 30_000;

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolveExit) => {
    if (child.exitCode !== null || child.signalCode !== null) resolveExit();
    else child.once("exit", () => resolveExit());
  });
}

/** Starts moto_server on a free port of 127.0.0.1 and waits until it answers. */
export async function startMoto(): Promise<Moto> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child = spawn("moto_server", ["-H", "127.0.0.1", "-p", String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
    // AWS managed policies (the API Gateway CloudWatch role attaches one) are off by default.
    env: { ...process.env, MOTO_IAM_LOAD_MANAGED_POLICIES: "true" },
  });
  let log = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    log = (log + chunk).slice(-4000);
  });
  const spawned = new Promise<void>((resolveSpawn, reject) => {
    child.once("spawn", resolveSpawn);
    child.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        error.code === "ENOENT"
          ? new ExpectedError(
              'moto_server was not found on PATH. Install it with `pip install "moto[server]"` and run this again.',
            )
          : error,
      ),
    );
  });
  await spawned;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited(child);
  };
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new ExpectedError(`moto_server exited with code ${child.exitCode}:\n${log.trim()}`);
    }
    try {
      const response = await fetch(`${endpoint}/moto-api/`);
      if (response.ok) return { endpoint, stop };
    } catch {
      // Not listening yet.
    }
    await sleep(200);
  }
  await stop();
  throw new ExpectedError(
    `moto_server did not answer on ${endpoint} within ${STARTUP_TIMEOUT_MS / 1000} s:\n${log.trim()}`,
  );
}
