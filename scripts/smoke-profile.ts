import { isDeployedStage, type Stage } from "../functions/contract.js";
import { STAGE_SETTINGS } from "../stacks/stages.js";

/**
 * Whether the smoke test may broadcast from a client on `stage`: the stage's `smokeBroadcast`
 * setting (stacks/stages.ts); the local stage has no users but the developer, so it may.
 * `--no-broadcast` narrows any stage to the reply-only profile (e.g. to rehearse prod's locally);
 * nothing widens prod's.
 */
export function smokeBroadcastAllowed(stage: Stage, options: { noBroadcast: boolean }): boolean {
  if (options.noBroadcast) return false;
  return isDeployedStage(stage) ? STAGE_SETTINGS[stage].smokeBroadcast : true;
}
