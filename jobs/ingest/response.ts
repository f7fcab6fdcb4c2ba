import type { RejectedLine, StoredRecord } from './types.js';

const quoted = new Map<string, string>();

/** JSON.stringify of a string, remembered: topics repeat on every record. */
function quote(text: string): string {
  let q = quoted.get(text);
  if (q === undefined) {
    q = JSON.stringify(text);
    if (quoted.size < 1_000) quoted.set(text, q);
  }
  return q;
}

/**
 * The 200 body of POST /v1/events, `{"accepted","rejected","records"}`, written out directly: the
 * same JSON as JSON.stringify of the objects, without building one object per stored record
 * (a batch answers a thousand of them). `stored[i]` is the record from line `lines[i]`.
 */
export function batchAnswer(rejected: readonly RejectedLine[], stored: readonly StoredRecord[], lines: readonly number[]): string {
  const parts = new Array<string>(stored.length);
  for (let i = 0; i < stored.length; i += 1) {
    const s = stored[i] as StoredRecord;
    // Event ids are UUIDs and offsets decimal digits: nothing in them needs escaping.
    parts[i] = `{"line":${lines[i] as number},"eventId":"${s.eventId}","topic":${quote(s.topic)},"partition":${s.partition},"offset":"${s.offset}"}`;
  }
  return `{"accepted":${stored.length},"rejected":${JSON.stringify(rejected)},"records":[${parts.join(',')}]}`;
}
