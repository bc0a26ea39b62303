import { describe, expect, it } from "vitest";
import { serviceEndpoint } from "./signed-service.js";

describe("serviceEndpoint", () => {
  it("follows the SDK's variables for Lambda: the Lambda-specific one, the general one, the region's", () => {
    const lambdaEndpoint = (env: NodeJS.ProcessEnv) =>
      serviceEndpoint("lambda", "invoke the fan-out worker in", env);
    expect(lambdaEndpoint({ AWS_REGION: "eu-west-1" }).href).toBe(
      "https://lambda.eu-west-1.amazonaws.com/",
    );
    expect(
      lambdaEndpoint({ AWS_REGION: "eu-west-1", AWS_ENDPOINT_URL_LAMBDA: "http://127.0.0.1:3004" })
        .href,
    ).toBe("http://127.0.0.1:3004/");
    expect(lambdaEndpoint({ AWS_ENDPOINT_URL: "http://127.0.0.1:4566" }).href).toBe(
      "http://127.0.0.1:4566/",
    );
    expect(
      lambdaEndpoint({
        AWS_REGION: "us-east-1",
        AWS_ENDPOINT_URL_LAMBDA: "http://127.0.0.1:3004",
        AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: "true",
      }).href,
    ).toBe("https://lambda.us-east-1.amazonaws.com/");
    expect(() => lambdaEndpoint({})).toThrow(
      "No region to invoke the fan-out worker in: AWS_REGION is not set. Set AWS_REGION.",
    );
  });

  it("reads each service's own variable, not another's", () => {
    const env = {
      AWS_REGION: "eu-west-1",
      AWS_ENDPOINT_URL_SNS: "http://127.0.0.1:3003",
      AWS_ENDPOINT_URL_LAMBDA: "http://127.0.0.1:3004",
    };
    expect(serviceEndpoint("sns", "publish in", env).href).toBe("http://127.0.0.1:3003/");
    expect(serviceEndpoint("lambda", "invoke in", env).href).toBe("http://127.0.0.1:3004/");
  });

  it("falls back to the general variable, then to the region's endpoint", () => {
    expect(
      serviceEndpoint("sns", "publish in", {
        AWS_REGION: "eu-west-1",
        AWS_ENDPOINT_URL_LAMBDA: "http://127.0.0.1:3004",
        AWS_ENDPOINT_URL: "http://127.0.0.1:4566",
      }).href,
    ).toBe("http://127.0.0.1:4566/");
    expect(serviceEndpoint("sns", "publish in", { AWS_REGION: "ap-southeast-2" }).href).toBe(
      "https://sns.ap-southeast-2.amazonaws.com/",
    );
    expect(serviceEndpoint("sns", "publish in", { AWS_DEFAULT_REGION: "us-east-2" }).href).toBe(
      "https://sns.us-east-2.amazonaws.com/",
    );
    // Set but empty counts as unset, as a template's blank variable would be.
    expect(
      serviceEndpoint("sns", "publish in", { AWS_REGION: "eu-west-1", AWS_ENDPOINT_URL_SNS: "" })
        .href,
    ).toBe("https://sns.eu-west-1.amazonaws.com/");
  });

  it("ignores both variables when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true", () => {
    expect(
      serviceEndpoint("sns", "publish in", {
        AWS_REGION: "us-east-1",
        AWS_ENDPOINT_URL_SNS: "http://127.0.0.1:3003",
        AWS_ENDPOINT_URL: "http://127.0.0.1:4566",
        AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: "true",
      }).href,
    ).toBe("https://sns.us-east-1.amazonaws.com/");
  });

  it("says what to set when there is no region and no endpoint", () => {
    expect(() => serviceEndpoint("sns", "publish to the stage's topic in", {})).toThrow(
      "No region to publish to the stage's topic in: AWS_REGION is not set. Set AWS_REGION.",
    );
  });
});
