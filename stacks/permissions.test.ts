import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CONNECTIONS_PREFIX,
  DEPLOYED_STAGES,
  type DeployedStage,
  FUNCTION_NAMES,
  FUNCTIONS,
  type FunctionName,
  type Permission,
  resourceNames,
} from "../functions/contract.js";
import type { PolicyStatement } from "./permissions.js";
import {
  type Fixture,
  only,
  type Resource,
  ref,
  resources,
  synthesizeFixture,
} from "./synthesized-fixture.js";

/**
 * Least privilege: each function's role grants exactly the actions FUNCTIONS[fn].permissions
 * declares (the table the functions' own tests check their code against), each on the narrowest
 * resource, plus what the Lambda service needs on the function's behalf — nothing else.
 */

let fixture: Fixture;
beforeAll(() => {
  fixture = synthesizeFixture();
});
afterAll(() => fixture.remove());

interface Grant {
  readonly action: string;
  readonly resource: string;
  readonly condition?: PolicyStatement["Condition"];
}

function grants(policy: string): Grant[] {
  const document = JSON.parse(policy) as { Statement: PolicyStatement[] };
  return document.Statement.flatMap((statement) => {
    expect(statement.Effect).toBe("Allow");
    const actions = [statement.Action].flat();
    const resourcesOf = [statement.Resource].flat();
    return actions.flatMap((action) =>
      resourcesOf.map((resource) => ({
        action,
        resource,
        ...(statement.Condition === undefined ? {} : { condition: statement.Condition }),
      })),
    );
  });
}

function byAction(list: readonly Grant[]): Grant[] {
  return [...list].sort((a, b) =>
    `${a.action}${a.resource}`.localeCompare(`${b.action}${b.resource}`),
  );
}

describe.each(DEPLOYED_STAGES)("the roles of %s", (stage: DeployedStage) => {
  const stack = () => fixture.stacks[stage];
  const id = (type: string, predicate: (r: Resource) => boolean = () => true) =>
    only(stack(), type, predicate)[0];

  /** The narrowest resource for each kind of contract permission. */
  function expectedGrant(permission: Permission): Grant {
    const bucketArn = ref("aws_s3_bucket", id("aws_s3_bucket"), "arn");
    switch (permission.resource) {
      case "registry-objects":
        return { action: permission.action, resource: `${bucketArn}/${CONNECTIONS_PREFIX}*` };
      case "registry-bucket":
        return {
          action: permission.action,
          resource: bucketArn,
          condition: { StringLike: { "s3:prefix": [`${CONNECTIONS_PREFIX}*`] } },
        };
      case "connections":
        return {
          action: permission.action,
          resource: `${ref("aws_apigatewayv2_api", id("aws_apigatewayv2_api"), "execution_arn")}/${stage}/POST/@connections/*`,
        };
      case "stage-topic":
        return {
          action: permission.action,
          resource: ref("aws_sns_topic", id("aws_sns_topic"), "arn"),
        };
      case "fanout-function":
        return {
          action: permission.action,
          resource: ref(
            "aws_lambda_function",
            id(
              "aws_lambda_function",
              (fn) => fn.function_name === resourceNames(stage).functionName("fanout"),
            ),
            "arn",
          ),
        };
    }
  }

  function rolePolicies(fn: FunctionName): Record<string, string> {
    const roleId = id(
      "aws_iam_role",
      (role) => role.name === resourceNames(stage).functionName(fn),
    );
    const roleRef = ref("aws_iam_role", roleId, "id");
    const policies = resources(stack(), "aws_iam_role_policy")
      .map(([, policy]) => policy)
      .filter((policy) => policy.role === roleRef);
    const roleName = ref("aws_iam_role", roleId, "name");
    const attachments = resources(stack(), "aws_iam_role_policy_attachment").filter(
      ([, attachment]) => attachment.role === roleName || attachment.role === roleRef,
    );
    expect(attachments, `managed policies on ${fn}'s role`).toEqual([]);
    return Object.fromEntries(policies.map((policy) => [policy.name, String(policy.policy)]));
  }

  it.each(FUNCTION_NAMES)("let %s's code call exactly its declared actions, narrowly", (fn) => {
    const policies = rolePolicies(fn);
    expect(Object.keys(policies).sort()).toEqual(["code", "runtime"]);
    const granted = grants(policies.code ?? "");
    expect(byAction(granted)).toEqual(byAction(FUNCTIONS[fn].permissions.map(expectedGrant)));
    for (const grant of granted) {
      expect(grant.action).not.toContain("*");
      expect(grant.resource).not.toBe("*");
    }
  });

  it.each(FUNCTION_NAMES)(
    "let the Lambda service write %s's logs and, for the asynchronously invoked, its failed events",
    (fn) => {
      const logGroup = id(
        "aws_cloudwatch_log_group",
        (group) => group.name === resourceNames(stage).functionLogGroup(fn),
      );
      const expected: Grant[] = [
        {
          action: "logs:CreateLogStream",
          resource: `${ref("aws_cloudwatch_log_group", logGroup, "arn")}:*`,
        },
        {
          action: "logs:PutLogEvents",
          resource: `${ref("aws_cloudwatch_log_group", logGroup, "arn")}:*`,
        },
      ];
      const names = resourceNames(stage);
      const queue = FUNCTIONS[fn].topicSubscriber
        ? names.failureQueue
        : FUNCTIONS[fn].shardWorker
          ? names.fanoutFailureQueue
          : undefined;
      if (queue !== undefined) {
        expected.push({
          action: "sqs:SendMessage",
          resource: ref(
            "aws_sqs_queue",
            id("aws_sqs_queue", (q) => q.name === queue),
            "arn",
          ),
        });
      }
      expect(byAction(grants(rolePolicies(fn).runtime ?? ""))).toEqual(byAction(expected));
    },
  );

  it.each(FUNCTION_NAMES)("let only Lambda assume %s's role", (fn) => {
    const [, role] = only(
      stack(),
      "aws_iam_role",
      (r) => r.name === resourceNames(stage).functionName(fn),
    );
    expect(JSON.parse(String(role.assume_role_policy))).toEqual({
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Principal: { Service: "lambda.amazonaws.com" },
          Action: "sts:AssumeRole",
        },
      ],
    });
  });
});
