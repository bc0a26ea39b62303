import { DEPLOYED_STAGES, type DeployedStage, isDeployedStage } from "../../functions/contract.js";
import { ExpectedError } from "../../smoke/errors.js";
import { DEFAULT_BRANCH } from "../../stacks/pipeline.js";
import { actionArgument, runIfMain, UsageError } from "../cli.js";
import { runIdOption } from "./build-record.js";
import { githubClient } from "./client.js";
import {
  DEPLOYMENT_STATES,
  DEPLOYMENT_TASK,
  type DeploymentState,
  recordDeployment,
} from "./deployments.js";
import { decidePromotion, decisionMarkdown } from "./promotion-gate.js";
import { stepCommand } from "./step-command.js";
import { appendStepSummary, currentRunUrl, setStepOutputs } from "./step-files.js";

/**
 * \`npm run promotion -- check|record\`: the promotion gate (promotion-gate.ts) and the deployment
 * records it reads (deployments.ts), as the Promote and deploy workflows call them.
 */

const USAGE = `
Usage: npm run promotion -- check --stage STAGE --run-id ID [--override-reason TEXT] [--json]
       npm run promotion -- record --stage STAGE --sha SHA --run-id ID --state STATE
                                   [--environment-url URL] [--deployment-id ID] [--json]

check:  may the build of Main run ID go to STAGE? The run must be a successful Main run of a push
        to ${DEFAULT_BRANCH} (never overridable). For prod, also: the same build (commit and run) has
        a successful deployment in staging, and the prod environment has required reviewers.
        A failed gate exits 1 unless --override-reason says why to go on; the reason and the
        overridden gates are written to the run's summary. Sets step outputs sha and run-id.
record: records a deploy of the build's commit SHA as a GitHub deployment in STAGE (task
        ${DEPLOYMENT_TASK}, payload {buildRunId}) with a status of STATE (${DEPLOYMENT_STATES.join(", ")});
        with --deployment-id, adds the status to that deployment. Sets step output deployment-id.

  --stage STAGE            ${DEPLOYED_STAGES.join(", ")}
  --run-id ID              the Main run that built what is promoted
  --override-reason TEXT   go on although a gate failed, and why (recorded in the summary)
  --sha SHA                the build's commit (check prints it)
  --state STATE            the deploy's outcome
  --environment-url URL    the stage's URL, shown on the Deployments page
  --json                   print the decision or the record as JSON

Environment: GITHUB_TOKEN (check needs \`actions: read\` and \`deployments: read\`; record needs
\`deployments: write\`), GITHUB_REPOSITORY, GITHUB_API_URL (default https://api.github.com).
`;

function stageOption(value: string | undefined): DeployedStage {
  if (value === undefined || !isDeployedStage(value)) {
    throw new UsageError(
      `--stage takes one of ${DEPLOYED_STAGES.join(", ")}${value === undefined ? "" : `, not "${value}"`}.\n${USAGE}`,
    );
  }
  return value;
}

export const promotionCommand = stepCommand(
  {
    usage: USAGE,
    allowPositionals: true,
    options: {
      stage: { type: "string" },
      "run-id": { type: "string" },
      "override-reason": { type: "string" },
      sha: { type: "string" },
      state: { type: "string" },
      "environment-url": { type: "string" },
      "deployment-id": { type: "string" },
      json: { type: "boolean" },
    },
  },
  async (parsed, env, out) => {
    const { values } = parsed;
    const action = actionArgument(
      parsed.positionals,
      { check: "before the approval", record: "after the deploy" },
      USAGE,
    );
    if (action === "check") {
      const stage = stageOption(values.stage);
      const runId = runIdOption(values["run-id"], USAGE);
      const reason = values["override-reason"]?.trim() || null;
      const decision = await decidePromotion(githubClient(env), stage, runId, reason);
      await appendStepSummary(decisionMarkdown(decision, env.GITHUB_ACTOR), env);
      await setStepOutputs({ sha: decision.build.sha, "run-id": String(runId) }, env);
      const failed = decision.gates.filter((g) => !g.passed);
      if (values.json === true) out(`${JSON.stringify(decision)}\n`);
      else {
        for (const gate of decision.gates) {
          out(`${gate.passed ? "passed" : "FAILED"}  ${gate.name}: ${gate.detail}\n`);
        }
      }
      if (!decision.allowed) {
        throw new ExpectedError(
          `Promotion of run ${runId} to ${stage} refused:\n${failed.map((g) => `  ${g.name}: ${g.detail}`).join("\n")}\nFix that, or promote anyway with an override reason (it is recorded in the run's summary).`,
        );
      }
      if (failed.length > 0) {
        // GitHub shows ::warning lines as annotations on the run's page.
        out(
          `::warning title=Promotion gates overridden::${failed.map((g) => g.name).join("; ")} — reason: ${reason}\n`,
        );
      }
      if (values.json !== true) {
        out(`Promote ${decision.build.sha} (run ${runId}) to ${stage}.\n`);
      }
      return 0;
    }
    const stage = stageOption(values.stage);
    const runId = runIdOption(values["run-id"], USAGE);
    const sha = values.sha;
    if (sha === undefined || !/^[0-9a-f]{40}$/.test(sha)) {
      throw new UsageError(`--sha takes the build's full 40-digit commit SHA.\n${USAGE}`);
    }
    const state = values.state;
    if (!(DEPLOYMENT_STATES as readonly (string | undefined)[]).includes(state)) {
      throw new UsageError(`--state takes one of ${DEPLOYMENT_STATES.join(", ")}.\n${USAGE}`);
    }
    const deploymentId = values["deployment-id"];
    if (deploymentId !== undefined && !/^[1-9]\d*$/.test(deploymentId)) {
      throw new UsageError(`--deployment-id takes a number, not "${deploymentId}".\n${USAGE}`);
    }
    const recorded = await recordDeployment(githubClient(env), {
      stage,
      sha,
      runId,
      state: state as DeploymentState,
      environmentUrl: values["environment-url"],
      logUrl: currentRunUrl(env),
      deploymentId: deploymentId === undefined ? undefined : Number(deploymentId),
    });
    await setStepOutputs({ "deployment-id": String(recorded.deploymentId) }, env);
    out(
      values.json === true
        ? `${JSON.stringify({ stage, sha, runId, state, ...recorded })}\n`
        : `Recorded ${state} of ${sha.slice(0, 12)} (run ${runId}) in ${stage}: deployment ${recorded.deploymentId}.\n`,
    );
    return 0;
  },
);

runIfMain(import.meta.url, (argv) => promotionCommand(argv));
