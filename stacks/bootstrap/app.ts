import { posix } from "node:path";
import { App } from "cdktf";
import { STATE_DIR, SYNTH_DIR } from "../../functions/contract.js";
import type { AccountStages } from "./accounts.js";
import { BootstrapStack, bootstrapStackName } from "./bootstrap-stack.js";

export interface BootstrapAppOptions {
  readonly outdir: string;
  readonly repository: string;
  /** The account being bootstrapped and the stages living in it. */
  readonly target: AccountStages;
  readonly oidcProviderArn?: string;
  readonly noncurrentVersionDays?: number;
}

/**
 * `.state/bootstrap/<account>.tfstate`, seen from `cdktf.out/stacks/<stack>/`: the bootstrap
 * cannot keep its state in the bucket it creates (README: moving it there afterwards).
 */
export function bootstrapStatePath(account: string): string {
  return posix.relative(
    posix.join(SYNTH_DIR, "stacks", bootstrapStackName(account)),
    posix.join(STATE_DIR, "bootstrap", `${account}.tfstate`),
  );
}

/** The cdktf app holding one account's bootstrap stack. */
export function bootstrapApp(options: BootstrapAppOptions): { app: App; stack: BootstrapStack } {
  const app = new App({ outdir: options.outdir, skipValidation: false });
  const { account, stages, region } = options.target;
  const stack = new BootstrapStack(app, bootstrapStackName(account), {
    account,
    repository: options.repository,
    stages,
    region,
    localStatePath: bootstrapStatePath(account),
    ...(options.oidcProviderArn === undefined ? {} : { oidcProviderArn: options.oidcProviderArn }),
    ...(options.noncurrentVersionDays === undefined
      ? {}
      : { noncurrentVersionDays: options.noncurrentVersionDays }),
  });
  return { app, stack };
}
