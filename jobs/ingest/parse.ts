import { eventIdProblem, validateRecord, validateTypedRecord, type RecordType, type TypedRecord, type ValidationIssue } from '../lib/contracts.js';
import { decodeUtf8, isBlank, splitNdjson } from './ndjson.js';
import type { RejectedLine, RejectReason } from './types.js';

export const NOT_UTF8 = 'not valid UTF-8';
export const NOT_JSON = 'not valid JSON';

export type SingleParse = { ok: true; typed: TypedRecord } | { ok: false; reason: RejectReason; message: string; details: ValidationIssue[] };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(issues: ValidationIssue[]): string {
  return issues.map((i) => (i.field ? `${i.field} ${i.reason}` : i.reason)).join('; ');
}

/** One raw record of a known type: the body of POST /v1/pin, /v1/geo, /v1/user and /pin/. */
export function parseSingle(type: RecordType, body: Buffer | undefined): SingleParse {
  const bytes = body ?? Buffer.alloc(0);
  const decoded = decodeUtf8(bytes);
  const text = decoded?.charCodeAt(0) === 0xfeff ? decoded.slice(1) : decoded;
  if (text === undefined) return { ok: false, reason: 'invalid_utf8', message: `the body is ${NOT_UTF8}`, details: [{ field: '', reason: NOT_UTF8 }] };
  if (isBlank(text)) return { ok: false, reason: 'invalid_json', message: `the body is empty: send one ${type} record as a JSON object`, details: [{ field: '', reason: 'is empty' }] };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: 'invalid_json', message: `the body is ${NOT_JSON}: ${(error as Error).message}`, details: [{ field: '', reason: NOT_JSON }] };
  }
  if (!isPlainObject(value)) {
    return { ok: false, reason: 'contract', message: `the body must be one ${type} record as a JSON object`, details: [{ field: '', reason: 'must be a JSON object' }] };
  }
  const checked = validateRecord(type, value);
  if (!checked.ok) return { ok: false, reason: 'contract', message: `invalid ${type} record: ${describe(checked.issues)}`, details: checked.issues };
  return { ok: true, typed: { type, record: checked.value } as TypedRecord };
}

export interface BatchParse {
  /** eventId: the client's own, when the line carries one. */
  records: Array<{ line: number; typed: TypedRecord; eventId?: string }>;
  rejected: RejectedLine[];
  reasons: Partial<Record<RejectReason, number>>;
}

/**
 * An NDJSON batch, each line `{"type":"pin|geo|user","record":{...}}` with an optional
 * `"eventId"` (the client's own, kept across its retries): valid lines are kept
 * with their line number, each invalid line becomes exactly one rejection (first problem as
 * field/reason, the others in details). Blank lines are skipped.
 */
export function parseBatch(body: Buffer | undefined): BatchParse {
  const result: BatchParse = { records: [], rejected: [], reasons: {} };
  const reject = (line: number, reason: RejectReason, issues: ValidationIssue[]): void => {
    const [first, ...more] = issues;
    result.rejected.push({ line, field: first?.field ?? '', reason: first?.reason ?? 'is invalid', code: 'PINPIPE_INPUT_INVALID', ...(more.length > 0 ? { details: more } : {}) });
    result.reasons[reason] = (result.reasons[reason] ?? 0) + 1;
  };
  for (const entry of splitNdjson(body ?? Buffer.alloc(0))) {
    if (!('text' in entry)) {
      reject(entry.line, 'invalid_utf8', [{ field: '', reason: NOT_UTF8 }]);
      continue;
    }
    if (isBlank(entry.text)) continue;
    let value: unknown;
    try {
      value = JSON.parse(entry.text);
    } catch {
      reject(entry.line, 'invalid_json', [{ field: '', reason: NOT_JSON }]);
      continue;
    }
    const checked = validateTypedRecord(value);
    const eventId = isPlainObject(value) ? value.eventId : undefined;
    const badEventId = eventId === undefined ? undefined : eventIdProblem(eventId);
    if (checked.ok && badEventId !== undefined) reject(entry.line, 'contract', [{ field: 'eventId', reason: badEventId }]);
    else if (checked.ok) result.records.push(eventId === undefined ? { line: entry.line, typed: checked.value } : { line: entry.line, typed: checked.value, eventId: eventId as string });
    else if (isPlainObject(value) && value.record === undefined && checked.issues[0]?.field === 'record') reject(entry.line, 'contract', [{ field: 'record', reason: 'is required' }]);
    else reject(entry.line, 'contract', checked.issues);
  }
  return result;
}
