import { DEPLOYED_STAGES, type DeployedStage } from "../../functions/contract.js";
import { STAGE_SETTINGS } from "../stages.js";

/** The stages one bootstrap covers: those living in one AWS account. */
export interface AccountStages {
  readonly account: string;
  readonly stages: readonly DeployedStage[];
  /** Region of the account's state bucket: its first stage's. */
  readonly region: string;
}

/**
 * Groups the deployed stages by the account they live in (StageSettings.account; unset means the
 * account of the credentials running the bootstrap, `defaultAccount`).
 */
export function accountsOfStages(
  defaultAccount: string,
  settings: typeof STAGE_SETTINGS = STAGE_SETTINGS,
): AccountStages[] {
  const byAccount = new Map<string, DeployedStage[]>();
  for (const stage of DEPLOYED_STAGES) {
    const account = settings[stage].account ?? defaultAccount;
    byAccount.set(account, [...(byAccount.get(account) ?? []), stage]);
  }
  return [...byAccount.entries()].map(([account, stages]) => ({
    account,
    stages,
    region: settings[stages[0] as DeployedStage].region,
  }));
}
