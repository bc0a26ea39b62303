/**
 * What the registry reads from a ListObjectsV2 page, and the reader that reads only that.
 *
 * Why: the SDK's deserializer turns the whole XML page into objects (every element of every
 * Contents: LastModified parsed into a Date, ETag, Size, StorageClass, Owner…) and then walks the
 * operation's schema over them — about 35 µs per key, a tenth of a fan-out's CPU per connection.
 * The registry needs three things: each Contents' Key, IsTruncated and NextContinuationToken.
 *
 * The page is read from S3's documented response shape (a ListBucketResult document) only when it
 * is exactly that shape: a 200 answer whose body is a ListBucketResult without CDATA, DOCTYPE,
 * entity declarations, attributes on the elements read, or an EncodingType, and whose count of
 * Contents matches its KeyCount. A 200 whose body is anything else (an Error document, a shape
 * this reader does not recognise) fails the listing in object-store.ts, naming what S3 sent: S3
 * documents none of those forms for ListObjectsV2, and guessing at keys would fan out to the
 * wrong connections. (This reader began in front of the SDK's deserializer, which read what it
 * did not; the functions no longer carry the S3 client.)
 *
 * Keys are XML text: the five predefined entities and character references are decoded, as any
 * XML parser does. The request sets no encoding-type (as before): the registry's keys are the
 * prefix and base64url, and a prefix needing URL encoding (control characters) is not one S3 can
 * list as XML anyway.
 */

export interface ListPage {
  readonly keys: string[];
  readonly isTruncated: boolean;
  readonly nextContinuationToken: string | undefined;
}

const PREDEFINED: Readonly<Record<string, string>> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
};

/** XML character data with its references decoded; undefined for text this reader does not take. */
export function xmlText(raw: string): string | undefined {
  // A literal CR would be normalized by an XML parser (S3 sends it as &#13;): leave it to the SDK.
  if (raw.includes("\r") || raw.includes("<")) return undefined;
  if (!raw.includes("&")) return raw;
  let out = "";
  let at = 0;
  for (;;) {
    const amp = raw.indexOf("&", at);
    if (amp === -1) return out + raw.slice(at);
    const semi = raw.indexOf(";", amp);
    if (semi === -1) return undefined;
    const name = raw.slice(amp + 1, semi);
    let decoded: string | undefined;
    if (name.startsWith("#x")) decoded = codePoint(name.slice(2), 16, /^[0-9a-fA-F]+$/);
    else if (name.startsWith("#")) decoded = codePoint(name.slice(1), 10, /^[0-9]+$/);
    else decoded = PREDEFINED[name];
    if (decoded === undefined) return undefined;
    out += raw.slice(at, amp) + decoded;
    at = semi + 1;
  }
}

function codePoint(digits: string, radix: number, shape: RegExp): string | undefined {
  if (!shape.test(digits)) return undefined;
  const value = Number.parseInt(digits, radix);
  if (value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff)) return undefined;
  return String.fromCodePoint(value);
}

/** The one `<name>text</name>` at the document's top level of interest, or undefined. */
function element(xml: string, name: string): { text: string | undefined; count: number } {
  const open = `<${name}>`;
  const close = `</${name}>`;
  let count = 0;
  let text: string | undefined;
  for (let at = xml.indexOf(open); at !== -1; at = xml.indexOf(open, at + 1)) {
    count += 1;
    const end = xml.indexOf(close, at);
    if (end === -1) return { text: undefined, count: Number.NaN };
    text = xml.slice(at + open.length, end);
  }
  return { text, count };
}

/**
 * Reads a ListObjectsV2 answer's body: the Keys in order, IsTruncated and NextContinuationToken.
 * Undefined when the body is not a ListBucketResult this reader takes (see above).
 */
export function parseListPage(xml: string): ListPage | undefined {
  const root = xml.indexOf("<ListBucketResult");
  if (root === -1 || !xml.trimEnd().endsWith("</ListBucketResult>")) return undefined;
  for (const unread of ["<![CDATA[", "<!DOCTYPE", "<!ENTITY", "<EncodingType"]) {
    if (xml.includes(unread)) return undefined;
  }

  const truncated = element(xml, "IsTruncated");
  if (truncated.count !== 1 || (truncated.text !== "true" && truncated.text !== "false")) {
    return undefined;
  }
  const token = element(xml, "NextContinuationToken");
  if (token.count > 1 || Number.isNaN(token.count)) return undefined;
  const nextContinuationToken = token.text === undefined ? undefined : xmlText(token.text);
  if (token.text !== undefined && nextContinuationToken === undefined) return undefined;
  if (truncated.text === "true" && nextContinuationToken === undefined) return undefined;

  const keys: string[] = [];
  let at = xml.indexOf("<Contents>", root);
  while (at !== -1) {
    const end = xml.indexOf("</Contents>", at);
    if (end === -1) return undefined;
    const keyAt = xml.indexOf("<Key>", at);
    if (keyAt === -1 || keyAt > end) return undefined;
    const keyEnd = xml.indexOf("</Key>", keyAt);
    if (keyEnd === -1 || keyEnd > end) return undefined;
    const key = xmlText(xml.slice(keyAt + 5, keyEnd));
    if (key === undefined) return undefined;
    keys.push(key);
    at = xml.indexOf("<Contents>", end);
  }
  // Every Contents was read as written, or the page goes to the SDK: the count S3 states must match.
  const keyCount = element(xml, "KeyCount");
  if (keyCount.count !== 1 || keyCount.text !== String(keys.length)) return undefined;
  // A Contents element written any other way (attributes, self-closing) would be missed above.
  let contents = 0;
  for (let i = xml.indexOf("<Contents", root); i !== -1; i = xml.indexOf("<Contents", i + 1)) {
    contents += 1;
  }
  if (contents !== keys.length) return undefined;
  return { keys, isTruncated: truncated.text === "true", nextContinuationToken };
}
