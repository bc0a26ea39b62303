import { App } from "cdktf";
import { DEPLOYED_STAGES, stackName } from "../functions/contract.js";
import { readBundles } from "./bundle.js";
import { STAGE_SETTINGS } from "./stages.js";
import { WebSocketStack } from "./websocket-stack.js";

export interface StagesAppOptions {
  /** Folder holding the bundles and their manifest (`dist/`). */
  readonly distDir: string;
  /** Where the synthesized stacks go (`cdktf.out/`). */
  readonly outdir: string;
  /** Consulted for the state backend; defaults to process.env. */
  readonly env?: NodeJS.ProcessEnv;
}

/** The cdktf app: one stack per deployed stage. Throws BundleNotFoundError without bundles. */
export function stagesApp(options: StagesAppOptions): {
  app: App;
  stacks: WebSocketStack[];
} {
  const bundles = readBundles(options.distDir);
  const app = new App({ outdir: options.outdir, skipValidation: false });
  const stacks = DEPLOYED_STAGES.map(
    (stage) =>
      new WebSocketStack(app, stackName(stage), {
        stage,
        settings: STAGE_SETTINGS[stage],
        bundles,
        ...(options.env === undefined ? {} : { env: options.env }),
      }),
  );
  return { app, stacks };
}
