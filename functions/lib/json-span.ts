/**
 * The exact text of one member of a JSON object, as the sender wrote it. Re-serializing a parsed
 * value changes it (`1e400` becomes `null`, `9007199254740993` loses its last digit) and can
 * overflow the stack on deep nesting; slicing the sender's own text does neither.
 *
 * The scanner is iterative (nesting depth costs no stack) and assumes `text` is valid JSON — call
 * it only after JSON.parse(text) succeeded. Like JSON.parse, the last of duplicate keys wins, and
 * keys are compared after unescaping (`"mess\u0061ge"` is `"message"`).
 */

const WHITESPACE = new Set([" ", "\t", "\n", "\r"]);

function skipWhitespace(text: string, index: number): number {
  let i = index;
  while (i < text.length && WHITESPACE.has(text[i] as string)) i += 1;
  return i;
}

/** Index just past the string token that starts at `start` (an opening quote). */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length) {
    const c = text[i];
    if (c === "\\") i += 2;
    else if (c === '"') return i + 1;
    else i += 1;
  }
  return i;
}

/** Index just past the JSON value that starts at `start`. */
function valueEnd(text: string, start: number): number {
  const first = text[start];
  if (first === '"') return stringEnd(text, start);
  if (first === "{" || first === "[") {
    let depth = 0;
    let i = start;
    while (i < text.length) {
      const c = text[i];
      if (c === '"') {
        i = stringEnd(text, i);
        continue;
      }
      if (c === "{" || c === "[") depth += 1;
      else if (c === "}" || c === "]") {
        depth -= 1;
        if (depth === 0) return i + 1;
      }
      i += 1;
    }
    return i;
  }
  // A number, true, false or null: it runs to the next delimiter.
  let i = start;
  while (i < text.length && !",}] \t\n\r".includes(text[i] as string)) i += 1;
  return i;
}

/**
 * The raw text of `key`'s value in the JSON object `text`, without surrounding whitespace; undefined
 * when `text` is not an object or has no such key.
 */
export function memberText(text: string, key: string): string | undefined {
  let i = skipWhitespace(text, 0);
  if (text[i] !== "{") return undefined;
  i = skipWhitespace(text, i + 1);
  let found: string | undefined;
  while (i < text.length && text[i] !== "}") {
    const keyEnd = stringEnd(text, i);
    const name = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipWhitespace(text, keyEnd);
    i = skipWhitespace(text, i + 1); // past ":"
    const end = valueEnd(text, i);
    if (name === key) found = text.slice(i, end);
    i = skipWhitespace(text, end);
    if (text[i] === ",") i = skipWhitespace(text, i + 1);
  }
  return found;
}
