import { posix } from "node:path";
import {
  type DeployedStage,
  PROJECT,
  STATE_BACKEND_ENV,
  STATE_DIR,
  SYNTH_DIR,
  stackName,
} from "../functions/contract.js";

export type StateBackend =
  | {
      readonly type: "s3";
      readonly bucket: string;
      readonly key: string;
      readonly region: string;
      readonly encrypt: true;
      /** S3-native state locking (Terraform 1.10+): no DynamoDB table. */
      readonly useLockfile: true;
    }
  | {
      readonly type: "local";
      /**
       * Relative to the stack's folder, so the synthesized JSON is the same on every machine; it
       * points into the repository's state folder, so deleting or re-downloading the synthesized
       * output never loses the state.
       */
      readonly path: string;
    };

/**
 * Where a stage's Terraform state lives: S3 (one key per stage) when STATE_BACKEND_ENV.bucket is
 * set, else a file under the repository's state folder.
 */
export function stateBackend(
  stage: DeployedStage,
  stageRegion: string,
  env: NodeJS.ProcessEnv,
): StateBackend {
  const bucket = env[STATE_BACKEND_ENV.bucket];
  if (bucket === undefined || bucket === "") {
    return { type: "local", path: localStatePath(stage) };
  }
  return {
    type: "s3",
    bucket,
    key: stateKey(stage),
    region: env[STATE_BACKEND_ENV.region] || stageRegion,
    encrypt: true,
    useLockfile: true,
  };
}

/** A stage's state object in the state bucket; the bootstrap grants its roles exactly this key. */
export function stateKey(stage: DeployedStage): string {
  return `${PROJECT}/${stackName(stage)}.tfstate`;
}

/** The object S3-native locking writes beside the state while an apply or locking plan runs. */
export function lockKey(stage: DeployedStage): string {
  return `${stateKey(stage)}.tflock`;
}

/** `.state/terraform/<stack>.tfstate`, seen from `cdktf.out/stacks/<stack>/`. */
export function localStatePath(stage: DeployedStage): string {
  const stack = stackName(stage);
  return posix.relative(
    posix.join(SYNTH_DIR, "stacks", stack),
    posix.join(STATE_DIR, "terraform", `${stack}.tfstate`),
  );
}

/** The backend as Terraform JSON (`terraform.backend`), e.g. for an override file. */
export function backendJson(backend: StateBackend): Record<string, Record<string, unknown>> {
  if (backend.type === "local") return { local: { path: backend.path } };
  return {
    s3: {
      bucket: backend.bucket,
      key: backend.key,
      region: backend.region,
      encrypt: backend.encrypt,
      use_lockfile: backend.useLockfile,
    },
  };
}
