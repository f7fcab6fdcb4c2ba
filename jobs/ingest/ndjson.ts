import { isUtf8 } from 'node:buffer';

/** One physical line of an NDJSON body, 1-based, without its line break. */
export type NdjsonLine = { line: number; text: string } | { line: number; invalidUtf8: true };

const NEWLINE = 0x0a;
const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decodes UTF-8 strictly: undefined when the bytes are not valid UTF-8 (no replacement
 * characters sneak into Kafka). A byte-order mark is kept: callers decide where one is allowed.
 */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return strict.decode(bytes);
  } catch {
    return undefined;
  }
}

function stripLineEnd(text: string): string {
  return text.endsWith('\r') ? text.slice(0, -1) : text;
}

/**
 * Splits a body into lines, numbered from 1 as an editor shows them (blank lines keep their
 * number, so a rejection points at the right line). A line break byte never occurs inside a
 * multi-byte UTF-8 sequence, so splitting the bytes first and decoding each line is exact: one
 * broken line is reported alone, its neighbours still count. Valid bodies (the common case)
 * take a fast path that decodes once.
 */
export function splitNdjson(body: Buffer): NdjsonLine[] {
  if (body.length === 0) return [];
  if (isUtf8(body)) {
    // Each line decoded on its own: one line with a non-ASCII character would otherwise make
    // the whole body (and every line cut from it) a two-byte string, slower to parse and encode.
    const lines: NdjsonLine[] = [];
    let start = 0;
    while (start < body.length) {
      let end = body.indexOf(NEWLINE, start);
      if (end === -1) end = body.length;
      let text = body.toString('utf8', start, end);
      if (start === 0 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      lines.push({ line: lines.length + 1, text: stripLineEnd(text) });
      start = end + 1;
    }
    return lines;
  }
  const lines: NdjsonLine[] = [];
  let start = 0;
  let line = 1;
  while (start <= body.length) {
    let end = body.indexOf(NEWLINE, start);
    if (end === -1) end = body.length;
    if (end === body.length && start === end) break; // nothing after the last line break
    const text = decodeUtf8(body.subarray(start, end));
    lines.push(text === undefined ? { line, invalidUtf8: true } : { line, text: stripLineEnd(line === 1 && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text) });
    start = end + 1;
    line += 1;
  }
  return lines;
}

/** A line with only spaces or tabs is skipped: not a record, not a rejection. */
export function isBlank(text: string): boolean {
  return text.trim() === '';
}
