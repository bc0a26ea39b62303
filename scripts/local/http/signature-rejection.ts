import { randomUUID } from "node:crypto";
import type { SignedService } from "./request-signature.js";

/**
 * What the local stage answers a request whose signature it refuses: each service's own status,
 * code and shape, so SDK clients raise the exception AWS would make them raise.
 *
 * Error shapes, per service, are AWS's:
 * - S3 (XML `<Error>`): AccessDenied for an anonymous request, InvalidAccessKeyId,
 *   SignatureDoesNotMatch, RequestTimeTooSkewed (MaxAllowedSkewMilliseconds 900000), AccessDenied
 *   "Request has expired" for a presigned URL past X-Amz-Expires, XAmzContentSHA256Mismatch,
 *   AuthorizationHeaderMalformed / AuthorizationQueryParametersError (400) — Amazon S3 API
 *   Reference, "Error responses" (list of error codes).
 * - SNS (query protocol, XML `<ErrorResponse>` with Type Sender): MissingAuthenticationToken and
 *   InvalidClientTokenId (403), IncompleteSignature (400) — SNS API Reference, "Common Error
 *   Types"; SignatureDoesNotMatch (403), also for "Signature expired: … (… - 15 min.)" as SNS
 *   answers it (aws/aws-sdk-js#265).
 * - API Gateway `@connections` and Lambda (JSON `{"message"}` with `x-amzn-ErrorType`):
 *   MissingAuthenticationTokenException "Missing Authentication Token", UnrecognizedClientException
 *   "The security token included in the request is invalid.", InvalidSignatureException for a
 *   mismatch and for "Signature expired: … (… - 5 min.)": API Gateway allows 5 minutes
 *   (AWS Knowledge Center, "Troubleshoot SigV4 signature mismatch errors with IAM authentication
 *   for API Gateway").
 */

/** What to answer instead of serving the request. */
export interface SignatureRejection {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** What the shape depends on besides the problem. */
export interface RejectionContext {
  readonly method: string;
  /** Signed by an Authorization header rather than a presigned URL. */
  readonly headerSigned: boolean;
  /** The stage accepts only its own credentials. */
  readonly strict: boolean;
}

/** Why a request is not served. */
export type SignatureProblem =
  | { readonly kind: "missing" }
  | { readonly kind: "malformed"; readonly detail: string }
  | { readonly kind: "unknown-key"; readonly accessKeyId: string }
  | {
      readonly kind: "mismatch";
      readonly accessKeyId: string;
      readonly signatureProvided: string;
      readonly stringToSign: string;
      readonly canonicalRequest: string;
    }
  | {
      readonly kind: "payload-mismatch";
      readonly claimed: string;
      readonly computed: string;
    }
  | {
      readonly kind: "skewed";
      /** X-Amz-Date as signed. */
      readonly requestTime: string;
      /** Now, in the same form and as ISO 8601. */
      readonly serverTime: string;
      readonly serverTimeIso: string;
      /** The earliest (or, for a date ahead of now, latest) X-Amz-Date accepted. */
      readonly boundary: string;
      readonly windowMs: number;
      readonly future: boolean;
    }
  | {
      readonly kind: "expired";
      readonly expiresSeconds: number;
      readonly expiredAt: string;
      readonly serverTime: string;
    };

const SIGNATURE_HINT =
  "The local stage requires SigV4-signed requests, as AWS does: use an AWS SDK or the AWS CLI.";

function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function xmlElements(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([name, value]) => `<${name}>${escapeXml(value)}</${name}>`)
    .join("");
}

const MISMATCH_MESSAGE =
  "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

/** The text AWS gives a request signed too long ago (or too far ahead). */
function expiredMessage(problem: Extract<SignatureProblem, { kind: "skewed" }>): string {
  const minutes = problem.windowMs / 60_000;
  return problem.future
    ? `Signature not yet current: ${problem.requestTime} is still later than ${problem.boundary} (${problem.serverTime} + ${minutes} min.)`
    : `Signature expired: ${problem.requestTime} is now earlier than ${problem.boundary} (${problem.serverTime} - ${minutes} min.)`;
}

function strictHint(context: RejectionContext): string {
  return context.strict
    ? " The local stage is bound to a non-loopback interface and accepts only its own credentials (the AWS credentials file it wrote into its state directory)."
    : "";
}

function s3Rejection(problem: SignatureProblem, context: RejectionContext): SignatureRejection {
  const requestId = randomUUID().replace(/-/g, "").slice(0, 16).toUpperCase();
  const error = (status: number, code: string, message: string, detail = {}) => ({
    status,
    code,
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error>${xmlElements({ Code: code, Message: message, ...detail, RequestId: requestId })}</Error>`,
  });
  const shaped = (() => {
    switch (problem.kind) {
      case "missing":
        return error(403, "AccessDenied", `Access Denied. ${SIGNATURE_HINT}`);
      case "malformed":
        return error(
          400,
          !context.headerSigned
            ? "AuthorizationQueryParametersError"
            : "AuthorizationHeaderMalformed",
          problem.detail,
        );
      case "unknown-key":
        return error(
          403,
          "InvalidAccessKeyId",
          `The AWS Access Key Id you provided does not exist in our records.${strictHint(context)}`,
          { AWSAccessKeyId: problem.accessKeyId },
        );
      case "mismatch":
        return error(
          403,
          "SignatureDoesNotMatch",
          "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
          {
            AWSAccessKeyId: problem.accessKeyId,
            StringToSign: problem.stringToSign,
            SignatureProvided: problem.signatureProvided,
            CanonicalRequest: problem.canonicalRequest,
          },
        );
      case "payload-mismatch":
        return error(
          400,
          "XAmzContentSHA256Mismatch",
          "The provided 'x-amz-content-sha256' header does not match what was computed.",
          {
            ClientComputedContentSHA256: problem.claimed,
            S3ComputedContentSHA256: problem.computed,
          },
        );
      case "skewed":
        return error(
          403,
          "RequestTimeTooSkewed",
          "The difference between the request time and the current time is too large.",
          {
            RequestTime: problem.requestTime,
            ServerTime: problem.serverTimeIso,
            MaxAllowedSkewMilliseconds: String(problem.windowMs),
          },
        );
      case "expired":
        return error(403, "AccessDenied", "Request has expired", {
          "X-Amz-Expires": String(problem.expiresSeconds),
          Expires: problem.expiredAt,
          ServerTime: problem.serverTime,
        });
    }
  })();
  const head = context.method === "HEAD";
  return {
    status: shaped.status,
    headers: {
      "x-amz-request-id": requestId,
      ...(head
        ? { "x-amz-error-code": shaped.code }
        : {
            "content-type": "application/xml",
            "content-length": String(Buffer.byteLength(shaped.body)),
          }),
    },
    body: head ? "" : shaped.body,
  };
}

function snsRejection(problem: SignatureProblem, context: RejectionContext): SignatureRejection {
  const [status, code, message] = ((): [number, string, string] => {
    switch (problem.kind) {
      case "missing":
        return [
          403,
          "MissingAuthenticationToken",
          `Request must contain either a valid (registered) AWS access key ID or X.509 certificate. ${SIGNATURE_HINT}`,
        ];
      case "malformed":
        return [400, "IncompleteSignature", problem.detail];
      case "unknown-key":
        return [
          403,
          "InvalidClientTokenId",
          `The security token included in the request is invalid.${strictHint(context)}`,
        ];
      case "mismatch":
      case "payload-mismatch":
        return [403, "SignatureDoesNotMatch", MISMATCH_MESSAGE];
      case "skewed":
        return [403, "SignatureDoesNotMatch", expiredMessage(problem)];
      case "expired":
        return [403, "SignatureDoesNotMatch", `Request has expired: ${problem.expiredAt}`];
    }
  })();
  const requestId = randomUUID();
  const body = `<?xml version="1.0"?>\n<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
  return {
    status,
    headers: {
      "content-type": "text/xml",
      "content-length": String(Buffer.byteLength(body)),
      "x-amzn-requestid": requestId,
    },
    body,
  };
}

/** API Gateway's and Lambda's REST-JSON shape: `{"message"}` and the x-amzn-ErrorType header. */
function jsonRejection(problem: SignatureProblem, context: RejectionContext): SignatureRejection {
  const [type, message] = ((): [string, string] => {
    switch (problem.kind) {
      case "missing":
        return ["MissingAuthenticationTokenException", "Missing Authentication Token"];
      case "malformed":
        return ["IncompleteSignatureException", problem.detail];
      case "unknown-key":
        return [
          "UnrecognizedClientException",
          `The security token included in the request is invalid.${strictHint(context)}`,
        ];
      case "mismatch":
      case "payload-mismatch":
        return ["InvalidSignatureException", MISMATCH_MESSAGE];
      case "skewed":
        return ["InvalidSignatureException", expiredMessage(problem)];
      case "expired":
        return ["InvalidSignatureException", `Signature expired: ${problem.expiredAt}`];
    }
  })();
  const body = JSON.stringify({ message });
  return {
    status: 403,
    headers: {
      "content-type": "application/json",
      "content-length": String(Buffer.byteLength(body)),
      "x-amzn-errortype": type,
      "x-amzn-requestid": randomUUID(),
    },
    body,
  };
}

/** The answer for `problem`, shaped as `service` gives it. */
export function rejectionFor(
  service: SignedService,
  problem: SignatureProblem,
  context: RejectionContext,
): SignatureRejection {
  switch (service) {
    case "s3":
      return s3Rejection(problem, context);
    case "sns":
      return snsRejection(problem, context);
    default:
      return jsonRejection(problem, context);
  }
}
