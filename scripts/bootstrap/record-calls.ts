import { createHash } from "node:crypto";
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { App } from "cdktf";
import { unzipSync, zipSync } from "fflate";
import {
  ARTIFACTS,
  FUNCTION_NAMES,
  type FunctionName,
  stackName,
} from "../../functions/contract.js";
import { ExpectedError } from "../../smoke/errors.js";
import { stateKey } from "../../stacks/backend.js";
import type { CallFixture, RecordedCall } from "../../stacks/bootstrap/recorded-calls.js";
import { type FunctionBundle, readBundles } from "../../stacks/bundle.js";
import { STAGE_SETTINGS, type StageSettings } from "../../stacks/stages.js";
import { WebSocketStack } from "../../stacks/websocket-stack.js";
import { parseCommandLine, runCommand } from "../cli.js";
import { MOTO_ACCOUNT, motoProvider, startMoto } from "../terraform/moto.js";
import { copyStack, overrideProvider } from "../terraform/overrides.js";
import { overrideToMirrorProvider, terraformEnvironment } from "../terraform/provider-mirror.js";
import { requireTerraform, type TerraformRun, terraform } from "../terraform/terraform.js";
import {
  callKey,
  distinctCalls,
  missingCalls,
  type RecordingTarget,
  recordedCalls,
} from "./iam-calls.js";
import { loggedCalls } from "./provider-log.js";

const STAGE = "dev";
export const CALLS_FIXTURE = "stacks/bootstrap/fixtures/dev-calls.json";

const USAGE = `
Usage: npm run bootstrap:calls [-- --write] [--dist DIR] [--json]

Records every AWS API call Terraform makes on the ${STAGE} stack — first apply, a plan, an update
(new code, changed settings, alarms on) and destroy — against moto_server on 127.0.0.1, with the
state in an S3 bucket there (native lock file), from Terraform's debug log (TF_LOG=DEBUG). Each
call is mapped to its IAM action and resource. Then, by default, checks that ${CALLS_FIXTURE}
(which the IAM simulation tests evaluate the pipeline roles against) has every call: exits 1 when
Terraform now makes a call the fixture lacks. Needs terraform, moto_server and \`npm run bundle\`.

  --write      replace the fixture with this recording instead of checking it
  --dist DIR   bundles folder (default ${ARTIFACTS.dir})
  --json       print {"recorded", "distinct", "missing": [...]} when done
`;

function step(message: string): void {
  process.stderr.write(`${message}\n`);
}

/**
 * The update: what a typical later deploy changes — code, memory, timeout, retention, log level,
 * alarms. Not the stage's throttling: moto 5.2 answers apigatewayv2 UpdateStage with a 500.
 */
function updatedSettings(settings: StageSettings): StageSettings {
  return {
    ...settings,
    memoryMb: settings.memoryMb + 128,
    timeoutSeconds: settings.timeoutSeconds + 1,
    logRetentionDays: settings.logRetentionDays === 14 ? 30 : 14,
    logLevel: settings.logLevel === "INFO" ? "DEBUG" : "INFO",
    alarms: true,
  };
}

/** Same bundles with one more file in each zip: new code hashes, so Lambda updates the code. */
async function changedBundles(
  bundles: Readonly<Record<FunctionName, FunctionBundle>>,
  dir: string,
): Promise<Record<FunctionName, FunctionBundle>> {
  const changed = {} as Record<FunctionName, FunctionBundle>;
  for (const fn of FUNCTION_NAMES) {
    const files = unzipSync(await readFile(bundles[fn].zip));
    files["CHANGED.txt"] = new TextEncoder().encode(`changed for the update recording\n`);
    const zip = join(dir, `${fn}.zip`);
    const bytes = zipSync(files, { mtime: new Date("2026-01-01T00:00:00Z") });
    await writeFile(zip, bytes);
    changed[fn] = { zip, sha256Base64: createHash("sha256").update(bytes).digest("base64") };
  }
  return changed;
}

function synthesizeStage(
  outdir: string,
  settings: StageSettings,
  bundles: Readonly<Record<FunctionName, FunctionBundle>>,
): string {
  const app = new App({ outdir, skipValidation: false });
  new WebSocketStack(app, stackName(STAGE), { stage: STAGE, settings, bundles, env: {} });
  app.synth();
  return join(outdir, "stacks", stackName(STAGE));
}

/** The stage's S3 backend, pointed at moto. */
async function overrideMotoBackend(dir: string, endpoint: string, bucket: string): Promise<void> {
  const backend = {
    s3: {
      bucket,
      key: stateKey(STAGE),
      region: STAGE_SETTINGS[STAGE].region,
      encrypt: true,
      use_lockfile: true,
      access_key: "testing",
      secret_key: "testing",
      skip_credentials_validation: true,
      skip_requesting_account_id: true,
      skip_metadata_api_check: true,
      skip_region_validation: true,
      use_path_style: true,
      endpoints: { s3: endpoint },
    },
  };
  await writeFile(
    join(dir, "backend_override.tf.json"),
    `${JSON.stringify({ terraform: { backend } }, null, 2)}\n`,
  );
}

/** The address of the stack's only resource of `type`. */
async function resourceAddress(dir: string, type: string): Promise<string> {
  const json = JSON.parse(await readFile(join(dir, "cdk.tf.json"), "utf8")) as {
    resource?: Record<string, Record<string, unknown>>;
  };
  const names = Object.keys(json.resource?.[type] ?? {});
  if (names.length !== 1)
    throw new ExpectedError(`Expected one ${type} in the stack, found ${names.length}.`);
  return `${type}.${names[0]}`;
}

async function stateAttribute(
  dir: string,
  env: NodeJS.ProcessEnv,
  address: string,
  attribute: string,
): Promise<string> {
  const shown = await terraform(
    ["show", "-json"],
    { dir, env, output: "capture" },
    "terraform show",
  );
  const state = JSON.parse(shown.stdout) as {
    values?: {
      root_module?: { resources?: { address: string; values: Record<string, unknown> }[] };
    };
  };
  const value = state.values?.root_module?.resources?.find((r) => r.address === address)?.values[
    attribute
  ];
  if (typeof value !== "string")
    throw new ExpectedError(`${address} has no ${attribute} in the state.`);
  return value;
}

async function motoRequest(url: string, init: RequestInit): Promise<void> {
  const response = await fetch(url, init);
  if (!response.ok) {
    throw new ExpectedError(`moto_server refused ${init.method} ${url}: ${response.status}`);
  }
}

interface Recording {
  readonly calls: RecordedCall[];
  readonly terraform: string;
}

async function record(distDir: string, scratch: string): Promise<Recording> {
  const version = await requireTerraform();
  const bundles = readBundles(distDir);
  const settings = STAGE_SETTINGS[STAGE];
  const dir = await copyStack(
    synthesizeStage(join(scratch, "first"), settings, bundles),
    join(scratch, "stack"),
  );
  const { env, mirror } = await terraformEnvironment(join(scratch, "cli"));
  await overrideToMirrorProvider(dir, mirror);
  const moto = await startMoto();
  const stateBucket = "websocket-stages-recording-state";
  const target: RecordingTarget = {
    account: MOTO_ACCOUNT,
    region: settings.region,
    stage: STAGE,
    stateBucket,
  };
  const calls: RecordedCall[] = [];
  let logIndex = 0;
  const logged = async (
    phase: RecordedCall["phase"],
    args: string[],
    what: string,
  ): Promise<void> => {
    logIndex += 1;
    const log = join(scratch, `terraform-${logIndex}.log`);
    const run: TerraformRun = {
      dir,
      env: { ...env, TF_LOG: "DEBUG", TF_LOG_PATH: log },
      output: "capture",
    };
    const started = performance.now();
    await terraform(args, run, what);
    const found = loggedCalls(await readFile(log, "utf8"));
    calls.push(...recordedCalls(found, phase, target));
    step(
      `  ${what}: ${found.length} calls (${((performance.now() - started) / 1000).toFixed(1)} s)`,
    );
  };
  let applied = false;
  try {
    const region = settings.region;
    await motoRequest(`${moto.endpoint}/${stateBucket}`, {
      method: "PUT",
      body: `<CreateBucketConfiguration><LocationConstraint>${region}</LocationConstraint></CreateBucketConfiguration>`,
    });
    await overrideMotoBackend(dir, moto.endpoint, stateBucket);
    await overrideProvider(dir, motoProvider(moto.endpoint));
    step(`Recording ${STAGE} against moto_server at ${moto.endpoint}:`);
    await logged("apply", ["init", "-input=false"], "init");
    applied = true;
    // A live stage has connections in its registry, so destroy must empty the bucket. The object
    // goes in before the bucket's TLS-only policy exists (moto enforces it on plain HTTP).
    const registryAddress = await resourceAddress(dir, "aws_s3_bucket");
    await logged(
      "apply",
      ["apply", "-input=false", "-auto-approve", `-target=${registryAddress}`],
      "first apply (registry bucket)",
    );
    const registry = await stateAttribute(dir, env, registryAddress, "bucket");
    const s3 = new S3Client({
      endpoint: moto.endpoint,
      region: settings.region,
      forcePathStyle: true,
      credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
    });
    try {
      await s3.send(
        new PutObjectCommand({ Bucket: registry, Key: "connections/recording-probe", Body: "{}" }),
      );
    } finally {
      s3.destroy();
    }
    await logged("apply", ["apply", "-input=false", "-auto-approve"], "first apply (the rest)");
    await logged("plan", ["init", "-input=false", "-reconfigure"], "init (plan)");
    await logged("plan", ["plan", "-input=false", "-lock=false"], "plan");
    const updated = synthesizeStage(
      join(scratch, "update"),
      updatedSettings(settings),
      await changedBundles(bundles, scratch),
    );
    await cp(join(updated, "cdk.tf.json"), join(dir, "cdk.tf.json"));
    for (const entry of await readdir(updated)) {
      if (entry === "assets") await cp(join(updated, entry), join(dir, entry), { recursive: true });
    }
    await logged("update", ["apply", "-input=false", "-auto-approve"], "update");
  } finally {
    if (applied) await logged("destroy", ["destroy", "-input=false", "-auto-approve"], "destroy");
    await moto.stop();
  }
  // Sanity: the state really went to the bucket, with S3-native locking.
  if (!calls.some((call) => call.resource.endsWith(".tfstate.tflock"))) {
    throw new ExpectedError(
      "The recording has no call on the state lock object: was the S3 backend used?",
    );
  }
  return { calls, terraform: version };
}

runCommand(async () => {
  const parsed = parseCommandLine(process.argv.slice(2), {
    usage: USAGE,
    options: { write: { type: "boolean" }, dist: { type: "string" }, json: { type: "boolean" } },
  });
  if (parsed === undefined) return 0;
  const scratch = await mkdtemp(join(tmpdir(), "websocket-stages-calls-"));
  try {
    const started = performance.now();
    const { calls, terraform: version } = await record(
      resolve(parsed.values.dist ?? ARTIFACTS.dir),
      scratch,
    );
    const distinct = distinctCalls(calls);
    const fixtureFile = resolve(CALLS_FIXTURE);
    let missing: RecordedCall[] = [];
    if (parsed.values.write === true) {
      const fixture: CallFixture = {
        recordedWith: { terraform: version, provider: "hashicorp/aws 5.100.0" },
        calls: distinct,
      };
      await writeFile(fixtureFile, `${JSON.stringify(fixture, null, 2)}\n`);
      step(
        `Wrote ${distinct.length} distinct calls (${calls.length} recorded) to ${CALLS_FIXTURE}.`,
      );
    } else {
      const fixture = JSON.parse(await readFile(fixtureFile, "utf8")) as CallFixture;
      missing = missingCalls(distinct, fixture.calls);
      const now = new Set(distinct.map(callKey));
      const gone = fixture.calls.filter((call) => !now.has(callKey(call)));
      step(
        `${calls.length} calls recorded, ${distinct.length} distinct; the fixture has ${fixture.calls.length}.`,
      );
      if (gone.length > 0) {
        step(`${gone.length} fixture call(s) not made this time (kept: harmless, may be timing).`);
      }
      for (const call of missing) {
        step(`  MISSING: ${call.phase} ${call.operation} → ${call.action} on ${call.resource}`);
      }
    }
    if (parsed.values.json === true) {
      process.stdout.write(
        `${JSON.stringify({ recorded: calls.length, distinct: distinct.length, missing, ms: Math.round(performance.now() - started) })}\n`,
      );
    }
    if (missing.length > 0) {
      throw new ExpectedError(
        `Terraform now makes ${missing.length} call(s) ${CALLS_FIXTURE} lacks. Run \`npm run bootstrap:calls -- --write\`, then make the pipeline roles allow them (stacks/bootstrap/actions.ts) until the simulation tests pass.`,
      );
    }
    return 0;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
});
