import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Type, type Static, type TSchema } from '@sinclair/typebox';

/**
 * The raw records exactly as the Pinterest user-posting emulation sends them. These TypeBox
 * schemas are the single source of truth: the TypeScript types are derived from them and they
 * are JSON Schema documents themselves (served by ingest at /openapi.json).
 *
 * Tolerant of the known placeholders (they are valid strings: cleaning turns them into nulls
 * later), strict about types and required fields. Extra fields are kept, not rejected, so a
 * newer emulator does not lose data at the door.
 */

export const RECORD_TYPES = ['pin', 'geo', 'user'] as const;
export type RecordType = (typeof RECORD_TYPES)[number];

/** Strings the seed data uses to mean "missing", by field. Cleaning maps each to null. */
export const PLACEHOLDERS = {
  title: ['No Title Data Available', 'Untitled'],
  description: ['No description available Story format', 'No description available', 'Untitled'],
  poster_name: ['User Info Error'],
  follower_count: ['User Info Error'],
  tag_list: ['N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e'],
  image_src: ['Image src error.'],
} as const satisfies Record<string, readonly string[]>;

export const MEDIA_TYPES = ['image', 'video', 'multi-video(story page format)'] as const;

/** "2020-08-28 03:52:47" as the emulation posts it; ISO 8601 with T and a zone is accepted too. */
export const EVENT_TIME_PATTERN = '^\\d{4}-\\d{2}-\\d{2}[ T]\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,6})?(Z|[+-]\\d{2}:?\\d{2})?$';

const EventTime = Type.String({ pattern: EVENT_TIME_PATTERN, description: 'a time like "2020-08-28 03:52:47" (UTC unless a zone is given)' });
const JoinKey = Type.Integer({ minimum: 0, description: 'the key joining a post\'s pin, geo and user records' });

export const PinRecordSchema = Type.Object(
  {
    index: JoinKey,
    unique_id: Type.String({ minLength: 1 }),
    title: Type.String(),
    description: Type.String(),
    poster_name: Type.Optional(Type.String()),
    follower_count: Type.Union([Type.String({ pattern: '^(\\d+(\\.\\d+)?[kMB]?|User Info Error)$' }), Type.Integer({ minimum: 0 })], {
      description: 'a count such as "13k", "1M", "850" or the placeholder "User Info Error"',
    }),
    tag_list: Type.String(),
    is_image_or_video: Type.Union(MEDIA_TYPES.map((m) => Type.Literal(m)), { description: MEDIA_TYPES.map((m) => `"${m}"`).join(', ') }),
    image_src: Type.String(),
    downloaded: Type.Union([Type.Literal(0), Type.Literal(1)], { description: '0 or 1' }),
    save_location: Type.String(),
    category: Type.String({ minLength: 1 }),
  },
  { $id: 'PinRecord', additionalProperties: true },
);
export type PinRecord = Static<typeof PinRecordSchema>;

export const GeoRecordSchema = Type.Object(
  {
    ind: JoinKey,
    timestamp: EventTime,
    latitude: Type.Number({ minimum: -90, maximum: 90 }),
    longitude: Type.Number({ minimum: -180, maximum: 180 }),
    country: Type.String({ minLength: 1 }),
  },
  { $id: 'GeoRecord', additionalProperties: true },
);
export type GeoRecord = Static<typeof GeoRecordSchema>;

export const UserRecordSchema = Type.Object(
  {
    ind: JoinKey,
    first_name: Type.String(),
    last_name: Type.String(),
    age: Type.Integer({ minimum: 0, maximum: 150 }),
    date_joined: EventTime,
  },
  { $id: 'UserRecord', additionalProperties: true },
);
export type UserRecord = Static<typeof UserRecordSchema>;

export interface RecordOf {
  pin: PinRecord;
  geo: GeoRecord;
  user: UserRecord;
}

export const RECORD_SCHEMAS: { [K in RecordType]: TSchema } = {
  pin: PinRecordSchema,
  geo: GeoRecordSchema,
  user: UserRecordSchema,
};

/** One line of an NDJSON batch: `{"type":"geo","record":{...}}`. */
export type TypedRecord = { [K in RecordType]: { type: K; record: RecordOf[K] } }[RecordType];

export const TOPICS: { readonly [K in RecordType]: string } = {
  pin: 'pinterest.pin.v1',
  geo: 'pinterest.geo.v1',
  user: 'pinterest.user.v1',
};

export function recordTypeOfTopic(topic: string): RecordType | undefined {
  return RECORD_TYPES.find((t) => TOPICS[t] === topic);
}

/** Kafka record headers ingest sets on every record. */
/**
 * A client's own event id (a field of a batch line, or the Pinpipe-Event-Id header of a single
 * record): sent again with a retry, it lets the pipeline count the record once.
 */
export const EVENT_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$';
const EVENT_ID = new RegExp(EVENT_ID_PATTERN);
export const EVENT_ID_RULE = 'must be 1 to 128 letters, digits, ".", "_", ":" or "-", starting with a letter or digit';

/** Why a client's event id is refused, or undefined when it is a valid one. */
export function eventIdProblem(value: unknown): string | undefined {
  return typeof value === 'string' && EVENT_ID.test(value) ? undefined : EVENT_ID_RULE;
}

export const RECORD_HEADERS = {
  /** A unique id per accepted record (the client's own, or a UUID ingest makes), for end-to-end accounting and deduplication. */
  eventId: 'pinpipe-event-id',
  /** When ingest accepted the record, epoch milliseconds as a decimal string. */
  ingestTime: 'pinpipe-ingest-time',
  /** The record type, so a consumer need not infer it from the topic. */
  recordType: 'pinpipe-record-type',
} as const;

/** The join key: `index` on pins, `ind` on geo and user records. */
export function joinKeyOf(typed: TypedRecord): number {
  return typed.type === 'pin' ? typed.record.index : typed.record.ind;
}

// ---------------------------------------------------------------------------------------------
// Validation

export interface ValidationIssue {
  /** Dotted path of the offending field, e.g. "follower_count"; "" for the record itself. */
  field: string;
  reason: string;
}

export type Validation<T> = { ok: true; value: T } | { ok: false; issues: ValidationIssue[] };

const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
const validators = Object.fromEntries(RECORD_TYPES.map((t) => [t, ajv.compile(RECORD_SCHEMAS[t])])) as Record<RecordType, ValidateFunction>;

function describeIssue(error: ErrorObject): ValidationIssue {
  const path = error.instancePath.split('/').filter(Boolean);
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'required') {
    return { field: [...path, String(params.missingProperty)].join('.'), reason: 'is required' };
  }
  const described = (error.parentSchema as { description?: string } | undefined)?.description;
  let reason: string;
  switch (error.keyword) {
    case 'type':
      reason = `must be ${/^[aeiou]/.test(String(params.type)) ? 'an' : 'a'} ${String(params.type)}`;
      break;
    case 'pattern':
    case 'anyOf':
    case 'const':
      reason = described ? `must be ${described}` : (error.message ?? 'is invalid');
      break;
    default:
      reason = error.message ?? 'is invalid';
  }
  return { field: path.join('.'), reason };
}

/** Keeps the most useful issue per field: union branches otherwise repeat one problem thrice. */
function summarise(errors: ErrorObject[]): ValidationIssue[] {
  const byField = new Map<string, ValidationIssue>();
  const rank = (e: ErrorObject): number => (e.keyword === 'anyOf' ? 0 : e.keyword === 'required' ? 2 : 1);
  const sorted = [...errors].sort((a, b) => rank(a) - rank(b));
  for (const error of sorted) {
    const issue = describeIssue(error);
    if (!byField.has(issue.field)) byField.set(issue.field, issue);
  }
  return [...byField.values()];
}

function calendarIssues(type: RecordType, record: Record<string, unknown>): ValidationIssue[] {
  const fields = type === 'geo' ? ['timestamp'] : type === 'user' ? ['date_joined'] : [];
  return fields
    .filter((field) => parseEventTime(String(record[field])) === undefined)
    .map((field) => ({ field, reason: 'is not a real calendar date and time' }));
}

export function validateRecord<K extends RecordType>(type: K, record: unknown): Validation<RecordOf[K]> {
  const validate = validators[type];
  if (!validate(record)) return { ok: false, issues: summarise(validate.errors ?? []) };
  const calendar = calendarIssues(type, record as Record<string, unknown>);
  if (calendar.length > 0) return { ok: false, issues: calendar };
  return { ok: true, value: record as RecordOf[K] };
}

/** Validates one NDJSON batch line, already parsed: `{"type": ..., "record": {...}}`. */
export function validateTypedRecord(value: unknown): Validation<TypedRecord> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, issues: [{ field: '', reason: 'must be a JSON object like {"type":"pin","record":{...}}' }] };
  }
  const { type, record } = value as { type?: unknown; record?: unknown };
  if (typeof type !== 'string' || !(RECORD_TYPES as readonly string[]).includes(type)) {
    return { ok: false, issues: [{ field: 'type', reason: `must be one of ${RECORD_TYPES.map((t) => `"${t}"`).join(', ')}` }] };
  }
  const checked = validateRecord(type as RecordType, record);
  if (!checked.ok) return { ok: false, issues: checked.issues.map((i) => ({ field: i.field ? `record.${i.field}` : 'record', reason: i.reason })) };
  return { ok: true, value: { type, record: checked.value } as TypedRecord };
}

/**
 * Parses an event time. Times without a zone are UTC, as the seed emulation writes them.
 * Returns epoch milliseconds, or undefined when the text is not a real instant (Feb 30).
 */
const EVENT_TIME = new RegExp(EVENT_TIME_PATTERN);

const DAY_MS = 86_400_000;

function isRealDate(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return day <= (month === 2 ? (leap ? 29 : 28) : month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31);
}

export function parseEventTime(text: string): number | undefined {
  const match = EVENT_TIME.exec(text);
  if (match === null) return undefined;
  const zoned = match[2] !== undefined;
  const iso = text.charCodeAt(10) === 0x20 ? `${text.slice(0, 10)}T${text.slice(11)}` : text;
  const millis = Date.parse(zoned ? iso : `${iso}Z`);
  if (Number.isNaN(millis)) return undefined;
  if (zoned) return millis;
  // Date.parse rolls Feb 30 over to Mar 2 (and 24:00 to the next day): the instant must fall
  // on the very calendar day the text names.
  const year = Number(text.slice(0, 4));
  const month = Number(text.slice(5, 7));
  const day = Number(text.slice(8, 10));
  if (!isRealDate(year, month, day)) return undefined;
  // Date.UTC reads years 0-99 as 1900-1999; setUTCFullYear takes them as they are.
  const midnight = year >= 100 ? Date.UTC(year, month - 1, day) : new Date(0).setUTCFullYear(year, month - 1, day);
  return millis >= midnight && millis < midnight + DAY_MS ? millis : undefined;
}

/** Formats epoch milliseconds the way the emulation writes times: "2020-08-28 03:52:47" (UTC). */
export function formatEventTime(millis: number): string {
  return new Date(millis).toISOString().slice(0, 19).replace('T', ' ');
}
