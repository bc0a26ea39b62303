import {
  CONNECTIONS_PREFIX,
  type DeployedStage,
  STACK_OUTPUTS,
  type StageOutputs,
} from "../../functions/contract.js";
import { ExpectedError } from "../../smoke/errors.js";
import { STAGE_SETTINGS } from "../../stacks/stages.js";
import { type TerraformRun, terraform } from "./terraform.js";

/** Reads the stack's Terraform outputs as StageOutputs. */
export async function readStackOutputs(
  stage: DeployedStage,
  run: TerraformRun,
): Promise<StageOutputs> {
  const { stdout } = await terraform(["output", "-json"], run, "terraform output");
  const raw = JSON.parse(stdout) as Record<string, { value?: unknown } | undefined>;
  const outputs: Record<string, string> = { stage };
  const missing: string[] = [];
  for (const key of STACK_OUTPUTS) {
    const value = raw[key]?.value;
    if (typeof value === "string" && value !== "") outputs[key] = value;
    else missing.push(key);
  }
  if (missing.length > 0) {
    throw new ExpectedError(
      `The applied stack of ${stage} lacks the outputs ${missing.join(", ")}.`,
    );
  }
  return outputs as unknown as StageOutputs;
}

/** What a stage's outputs must look like; returns the problems found. */
export function checkOutputs(stage: DeployedStage, outputs: StageOutputs): string[] {
  const problems: string[] = [];
  const { region } = STAGE_SETTINGS[stage];
  const expect = (ok: boolean, problem: string) => {
    if (!ok) problems.push(problem);
  };
  expect(outputs.region === region, `region is ${outputs.region}, expected ${region}`);
  expect(
    outputs.connectionsPrefix === CONNECTIONS_PREFIX,
    `connectionsPrefix is ${outputs.connectionsPrefix}, expected ${CONNECTIONS_PREFIX}`,
  );
  expect(
    new RegExp(`^wss://[^/]+/${stage}$`).test(outputs.websocketUrl),
    `websocketUrl ${outputs.websocketUrl} is not wss://<host>/${stage}`,
  );
  expect(
    outputs.managementEndpoint === outputs.websocketUrl.replace(/^wss:/, "https:"),
    `managementEndpoint ${outputs.managementEndpoint} is not the https form of ${outputs.websocketUrl}`,
  );
  expect(
    outputs.topicArn.startsWith(`arn:aws:sns:${region}:`),
    `topicArn ${outputs.topicArn} is not an SNS topic in ${region}`,
  );
  expect(outputs.connectionsBucket.length > 0, "connectionsBucket is empty");
  return problems;
}
