import { PLACEHOLDERS, type RecordType } from '../lib/contracts.js';
import { quote } from '../lib/duckdb.js';
import { columnNames, CURATED_TABLES, type CuratedTable } from '../lib/curated.js';

/**
 * The cleaning rules as DuckDB SQL. Raw lines are parsed once against an explicit structure
 * whose leaves are all VARCHAR (nothing inferred), then typed field by field with try_cast, so
 * one odd value nulls a field or rejects its line with a reason, and never fails the day.
 */

function inList(values: readonly string[]): string {
  return `(${values.map(quote).join(', ')})`;
}

/** `expr IN (placeholders of field)`; false when the field has none. */
export function isPlaceholder(field: keyof typeof PLACEHOLDERS, expr: string): string {
  return `coalesce(${expr} IN ${inList(PLACEHOLDERS[field])}, false)`;
}

/** The raw record fields of all three types, every leaf read as text. */
const RECORD_FIELDS: Record<RecordType, readonly string[]> = {
  pin: ['index', 'unique_id', 'title', 'description', 'poster_name', 'follower_count', 'tag_list', 'is_image_or_video', 'image_src', 'downloaded', 'save_location', 'category'],
  geo: ['ind', 'timestamp', 'latitude', 'longitude', 'country'],
  user: ['ind', 'first_name', 'last_name', 'age', 'date_joined'],
};

/** The lake line's own fields read besides the record: a pin also keeps its Kafka time (when it was posted). */
const LINE_FIELDS: Record<RecordType, readonly string[]> = {
  pin: ['topic', 'partition', 'offset', 'timestamp'],
  geo: ['topic', 'partition', 'offset'],
  user: ['topic', 'partition', 'offset'],
};

function lineStructure(type: RecordType): string {
  const record = Object.fromEntries(RECORD_FIELDS[type].map((f) => [f, 'VARCHAR']));
  return JSON.stringify({ ...Object.fromEntries(LINE_FIELDS[type].map((f) => [f, 'VARCHAR'])), record });
}

/**
 * Every non-blank line of the staged gzip NDJSON files as text. The delimiter is a control
 * character that valid JSON never holds unescaped, and quoting is off, so a line is one value.
 */
export function readLinesSql(files: readonly string[]): string {
  const list = `[${files.map(quote).join(', ')}]`;
  return `SELECT parse_filename(filename) AS object_name, line
    FROM read_csv(${list}, columns = {'line': 'VARCHAR'}, delim = '\\x01', quote = '', escape = '', header = false,
                  auto_detect = false, compression = 'gzip', filename = true, strict_mode = false, null_padding = false)
    WHERE line IS NOT NULL AND trim(line) <> ''`;
}

/**
 * How raw lines are read. `fast`: DuckDB's NDJSON reader with an explicit structure (every leaf
 * VARCHAR, nothing inferred); it stops at the first line that is not a JSON object of that
 * shape. `robust`: each line as text, parsed on its own, so such a line becomes a rejected row
 * with its reason. transformDay tries fast first and falls back to robust for a topic whose
 * objects hold a malformed line; both give the same rows for well-formed lines.
 */
export type ReadMode = 'fast' | 'robust';

function recordStructure(type: RecordType): string {
  return `STRUCT(${RECORD_FIELDS[type].map((f) => `"${f}" VARCHAR`).join(', ')})`;
}

/**
 * Lines parsed once: `l` is the line as a struct, `line` the text (robust mode only; NULL when
 * the fast reader parsed it). In robust mode `l` is NULL when the line is not JSON at all.
 */
function parsedSql(type: RecordType, files: readonly string[], mode: ReadMode): string {
  if (mode === 'robust') {
    return `SELECT object_name, line, try(from_json(line, ${quote(lineStructure(type))})) AS l FROM (${readLinesSql(files)})`;
  }
  const list = `[${files.map(quote).join(', ')}]`;
  const fields = LINE_FIELDS[type];
  return `SELECT parse_filename(filename) AS object_name, NULL::VARCHAR AS line,
      {${fields.map((f) => `'${f}': "${f}"`).join(', ')}, 'record': record} AS l
    FROM read_json(${list}, format = 'newline_delimited', compression = 'gzip', filename = true, auto_detect = false,
      columns = {${fields.map((f) => `'${f}': 'VARCHAR'`).join(', ')}, 'record': ${quote(recordStructure(type))}})`;
}

const JOIN_KEY = `'[0-9]{1,18}'`;

/**
 * TIMESTAMP in UTC from "2020-08-28 03:52:47" (UTC), ISO 8601, or a time with a zone; NULL if not
 * a real instant. The raw records' own form, exactly "YYYY-MM-DD HH:MM:SS", has no room for a zone
 * and takes the plain TIMESTAMP cast, several times cheaper than the zone-aware one (which a plain
 * cast must not replace: it ignores an offset instead of applying it).
 */
export const timeSql = (expr: string) =>
  `CASE WHEN length(${expr}) = 19 AND ${expr}[14] = ':' AND ${expr}[17] = ':' THEN try_cast(${expr} AS TIMESTAMP)
      ELSE try_cast(${expr} AS TIMESTAMPTZ)::TIMESTAMP END`;

/**
 * Why a line failed, for failing lines only (CASE evaluates it for them alone): the costly JSON
 * checks say whether it is a lake line at all, else the record-level reason.
 */
function detailedReason(recordReason: string): string {
  return `CASE WHEN line IS NOT NULL AND NOT json_valid(line) THEN 'invalid JSON'
      WHEN line IS NOT NULL AND json_type(line) <> 'OBJECT' THEN 'not a JSON object'
      WHEN line IS NOT NULL AND json_type(line, '$.record') IS DISTINCT FROM 'OBJECT' THEN 'no record object'
      WHEN line IS NULL AND l.record IS NULL THEN 'no record object'
      WHEN source_partition IS NULL OR source_offset IS NULL THEN 'lake line without partition or offset'
      ELSE ${recordReason} END`;
}

/**
 * follower_count text → integer: "13k" → 13000, "1.5k" → 1500, "1M" → 1000000, "850" → 850.
 * DOUBLE arithmetic then round(): exact for these magnitudes (at most 6 decimals, < 2^53), and
 * ten times cheaper than DECIMAL; a value too big for BIGINT becomes NULL (counted as unreadable).
 */
export function followerCountSql(expr: string): string {
  return `CASE WHEN ${isPlaceholder('follower_count', expr)} THEN NULL
      WHEN regexp_full_match(${expr}, '[0-9]{1,15}(\\.[0-9]{1,6})?[kMB]?') THEN
        try_cast(round(CAST(CASE WHEN right(${expr}, 1) IN ('k', 'M', 'B') THEN left(${expr}, -1) ELSE ${expr} END AS DOUBLE) *
          CASE right(${expr}, 1) WHEN 'k' THEN 1000 WHEN 'M' THEN 1000000 WHEN 'B' THEN 1000000000 ELSE 1 END) AS BIGINT)
    END`;
}

/**
 * tag_list text → its tidy text: spaces around commas and empty tags removed, so splitting it on
 * "," gives the tags; the placeholder, an empty text or one without any tag → NULL. Most texts are
 * already tidy and skip the regular expression. DuckDB's trim() removes spaces only, as the rule
 * wants. The stage keeps this text and the list is made when a file is written: a list column
 * costs more to store, join and sort than the text it is split from.
 */
export function tagTextSql(expr: string): string {
  const tidy = `NOT (contains(${expr}, ' ,') OR contains(${expr}, ', ') OR contains(${expr}, ',,') OR starts_with(${expr}, ',') OR ends_with(${expr}, ',')
      OR starts_with(${expr}, ' ') OR ends_with(${expr}, ' '))`;
  const text = `CASE WHEN ${isPlaceholder('tag_list', expr)} THEN NULL WHEN ${tidy} THEN ${expr}
      ELSE trim(regexp_replace(${expr}, ' *,[ ,]*', ',', 'g'), ', ') END`;
  return `nullif(${text}, '')`;
}

/** The tag list of a tidy tag text (tagTextSql): split on ",". */
function splitTagsSql(tidyText: string): string {
  return `string_split(${tidyText}, ',')`;
}

/** tag_list text → list: split on ",", each tag trimmed, empty tags dropped (see tagTextSql). */
export function tagListSql(expr: string): string {
  return splitTagsSql(tagTextSql(expr));
}

/** NULL, empty or only spaces; trims only the texts that start with a space. */
function isBlank(expr: string): string {
  return `coalesce(${expr} = '' OR (starts_with(${expr}, ' ') AND trim(${expr}) = ''), true)`;
}

function nullIfPlaceholder(field: keyof typeof PLACEHOLDERS, expr: string): string {
  return `CASE WHEN ${isPlaceholder(field, expr)} THEN NULL ELSE ${expr} END`;
}

const r = (field: string) => `l.record."${field}"`;
const PARTITION = `CASE WHEN try_cast(l.partition AS INTEGER) BETWEEN 0 AND 1048575 THEN try_cast(l.partition AS INTEGER) END`;
const OFFSET = `CASE WHEN try_cast(l.offset AS BIGINT) BETWEEN 0 AND 8796093022207 THEN try_cast(l.offset AS BIGINT) END`;
/**
 * Lineage; `line_position` is (partition, offset) as one BIGINT that sorts the same way
 * (partition in the top 20 bits, offset in the 43 below), for cheap deduplication.
 */
const LINEAGE = `object_name, ${PARTITION} AS source_partition, ${OFFSET} AS source_offset, (${PARTITION}::BIGINT << 43) + ${OFFSET} AS line_position`;
const JOIN_KEY_OK = (field: string) => `coalesce(regexp_full_match(${r(field)}, ${JOIN_KEY}), false)`;

/**
 * A stage table: every line with its lineage, and either a reject reason (with the line,
 * shortened, and the object it came from) or the cleaned columns, plus flags the quality report
 * counts. Three layers: parse once, type each field once, then judge. Accepted rows do not keep
 * their object name: a long text repeated on a million rows is memory the day needs elsewhere.
 */
export function stageSql(type: RecordType, files: readonly string[], mode: ReadMode = 'robust'): string {
  let typed: string;
  let failed: string;
  let recordReason: string;
  let drop = 'line, l';
  if (type === 'pin') {
    typed = `${LINEAGE}, line, l,
        ${JOIN_KEY_OK('index')} AS key_ok,
        try_cast(${r('index')} AS BIGINT) AS ind,
        ${r('unique_id')} AS unique_id,
        ${nullIfPlaceholder('title', r('title'))} AS title,
        ${nullIfPlaceholder('description', r('description'))} AS description,
        ${nullIfPlaceholder('poster_name', r('poster_name'))} AS poster_name,
        ${followerCountSql(r('follower_count'))} AS follower_count,
        ${tagTextSql(r('tag_list'))} AS tag_text,
        CASE ${r('is_image_or_video')} WHEN 'image' THEN 'image' WHEN 'video' THEN 'video' WHEN 'multi-video(story page format)' THEN 'video' END AS media_type,
        coalesce(${r('is_image_or_video')} = 'multi-video(story page format)', false) AS story_format,
        ${nullIfPlaceholder('image_src', r('image_src'))} AS image_src,
        CASE ${r('downloaded')} WHEN '1' THEN true WHEN 'true' THEN true WHEN '0' THEN false WHEN 'false' THEN false END AS downloaded,
        CASE WHEN starts_with(${r('save_location')}, 'Local save in ') THEN substr(${r('save_location')}, 15) ELSE ${r('save_location')} END AS save_location,
        nullif(${r('category')}, '') AS category,
        epoch_ms(try_cast(l.timestamp AS BIGINT)) AS posted_at,
        ${isPlaceholder('title', r('title'))} AS ph_title,
        ${isPlaceholder('description', r('description'))} AS ph_description,
        ${isPlaceholder('poster_name', r('poster_name'))} AS ph_poster_name,
        ${isPlaceholder('follower_count', r('follower_count'))} AS ph_follower_count,
        ${isPlaceholder('tag_list', r('tag_list'))} AS ph_tag_list,
        ${isPlaceholder('image_src', r('image_src'))} AS ph_image_src,
        ${r('follower_count')} IS NOT NULL AND NOT ${isPlaceholder('follower_count', r('follower_count'))} AS has_follower_count,
        ${r('is_image_or_video')} IS NOT NULL AND ${r('is_image_or_video')} NOT IN ('image', 'video', 'multi-video(story page format)') AS bad_media_type`;
    failed = `l IS NULL OR source_partition IS NULL OR source_offset IS NULL OR NOT key_ok OR ${isBlank('unique_id')}`;
    recordReason = `CASE WHEN NOT key_ok THEN 'pin: index is missing or not a non-negative integer' ELSE 'pin: unique_id is missing' END`;
    drop = 'line, l, key_ok, has_follower_count';
    return `SELECT * EXCLUDE (${drop}), has_follower_count AND follower_count IS NULL AS bad_follower_count FROM (
      SELECT * REPLACE (CASE WHEN ${failed} THEN object_name END AS object_name), CASE WHEN ${failed} THEN ${detailedReason(recordReason)} END AS reject_reason,
        CASE WHEN ${failed} THEN left(coalesce(line, to_json(l)::VARCHAR), 500) END AS rejected_line
      FROM (SELECT ${typed} FROM (${parsedSql(type, files, mode)})))`;
  }
  if (type === 'geo') {
    typed = `${LINEAGE}, line, l,
        ${JOIN_KEY_OK('ind')} AS key_ok,
        try_cast(${r('ind')} AS BIGINT) AS ind,
        ${timeSql(r('timestamp'))} AS event_time,
        try_cast(${r('latitude')} AS DOUBLE) AS latitude,
        try_cast(${r('longitude')} AS DOUBLE) AS longitude,
        nullif(${r('country')}, '') AS country`;
    const placeOk = `coalesce(latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180, false)`;
    failed = `l IS NULL OR source_partition IS NULL OR source_offset IS NULL OR NOT key_ok OR event_time IS NULL OR NOT ${placeOk}`;
    recordReason = `CASE WHEN NOT key_ok THEN 'geo: ind is missing or not a non-negative integer'
        WHEN event_time IS NULL THEN 'geo: timestamp is missing or not a real time'
        ELSE 'geo: latitude or longitude is missing or out of range' END`;
  } else {
    typed = `${LINEAGE}, line, l,
        ${JOIN_KEY_OK('ind')} AS key_ok,
        try_cast(${r('ind')} AS BIGINT) AS ind,
        nullif(concat_ws(' ', nullif(trim(${r('first_name')}), ''), nullif(trim(${r('last_name')}), '')), '') AS user_name,
        try_cast(${r('age')} AS INTEGER) AS age,
        ${timeSql(r('date_joined'))} AS date_joined,
        ${r('age')} IS NOT NULL AND try_cast(${r('age')} AS INTEGER) IS NULL AS bad_age`;
    failed = `l IS NULL OR source_partition IS NULL OR source_offset IS NULL OR NOT key_ok OR date_joined IS NULL`;
    recordReason = `CASE WHEN NOT key_ok THEN 'user: ind is missing or not a non-negative integer' ELSE 'user: date_joined is missing or not a real time' END`;
  }
  return `SELECT * EXCLUDE (line, l, key_ok) FROM (
    SELECT * REPLACE (CASE WHEN ${failed} THEN object_name END AS object_name), CASE WHEN ${failed} THEN ${detailedReason(recordReason)} END AS reject_reason,
      CASE WHEN ${failed} THEN left(coalesce(line, to_json(l)::VARCHAR), 500) END AS rejected_line
    FROM (SELECT ${typed} FROM (${parsedSql(type, files, mode)})))`;
}

/** Which stage table feeds which curated table, and the key a duplicate is judged by. */
export const DEDUPE: Record<Exclude<CuratedTable, 'posts'>, { stage: RecordType; key: string }> = {
  pins: { stage: 'pin', key: 'unique_id' },
  geo: { stage: 'geo', key: 'ind' },
  users: { stage: 'user', key: 'ind' },
};
/** The curated table each topic's stage feeds: DEDUPE read the other way. */
export const TABLE_OF = Object.fromEntries(Object.entries(DEDUPE).map(([table, { stage }]) => [stage, table])) as Record<
  RecordType,
  Exclude<CuratedTable, 'posts'>
>;

/**
 * A curated table's columns but its join key: what it adds to a pin. Geo's coordinates are made
 * from latitude and longitude when posts are written, not carried through the sort as a list.
 */
const joinedColumns = (table: 'geo' | 'users', alias: string): string[] =>
  columnNames(table).filter((c) => c !== 'ind' && c !== 'coordinates').map((c) => `${alias}.${c}`);

/**
 * A stage table as stored: sorted once, by its curated file's order and then the line's Kafka
 * position, so every file is a plain scan of it (DuckDB keeps a scan's order, where it does not
 * keep a join's). `dup` starts false; markDuplicatesSql sets it.
 *
 * The pin stage also carries its geo and user columns (LEFT JOIN on ind with the deduplicated
 * geo and users, which must be staged first): the join runs inside the one sort the pins need,
 * so posts are a filter of it and the day's widest rows are never copied a second time.
 */
export function stageTableSql(type: RecordType, files: readonly string[], mode: ReadMode): string {
  const order = `${CURATED_TABLES[TABLE_OF[type]].orderBy}, line_position`;
  const sortKeys = (alias: string) => order.split(', ').map((c) => `${alias}${c} NULLS LAST`).join(', ');
  if (type !== 'pin') return `SELECT *, false AS dup FROM (${stageSql(type, files, mode)}) ORDER BY ${sortKeys('')}`;
  return `SELECT s.*, false AS dup, ${[...joinedColumns('geo', 'g'), ...joinedColumns('users', 'u')].join(', ')},
      g.ind IS NOT NULL AS has_geo, u.ind IS NOT NULL AS has_user
    FROM (${stageSql(type, files, mode)}) s LEFT JOIN geo g ON g.ind = s.ind LEFT JOIN users u ON u.ind = s.ind
    ORDER BY ${sortKeys('s.')}`;
}

/**
 * Flags the duplicates of a stage table. The winner is deterministic: the copy with the lowest
 * Kafka (partition, offset), i.e. the first one the lake received (the topic is fixed per table).
 * An UPDATE of the few losers, found by a hash aggregate over narrow columns, leaves the stage's
 * order as it is; a join or a window over the wide rows would not.
 */
export function markDuplicatesSql(type: RecordType): string {
  const { key } = DEDUPE[TABLE_OF[type]];
  const stage = `stage_${type}`;
  return `UPDATE ${stage} SET dup = true WHERE line_position IN (
      SELECT s.line_position FROM ${stage} s
        JOIN (SELECT ${key} AS k, min(line_position) AS keep FROM ${stage} WHERE reject_reason IS NULL GROUP BY ${key} HAVING count(*) > 1) d
        ON s.${key} = d.k AND s.line_position <> d.keep
      WHERE s.reject_reason IS NULL)`;
}

/**
 * A curated table as a view: the accepted, not duplicated rows of its stage, in the stage's
 * order. A post is a pin with where and by whom it was posted (it has both).
 */
export function curatedViewSql(table: CuratedTable, date: string): string {
  if (table === 'posts') return `SELECT *, DATE ${quote(date)} AS dt FROM pins WHERE has_geo AND has_user`;
  return `SELECT * FROM stage_${DEDUPE[table].stage} WHERE reject_reason IS NULL AND NOT dup`;
}

/** Columns written differently from how they are staged: the lists are made only here. */
const WRITTEN_AS: Record<string, string> = {
  tag_list: `${splitTagsSql('tag_text')} AS tag_list`,
  coordinates: '[latitude, longitude] AS coordinates',
};

export function copyToParquetSql(select: string, path: string): string {
  // Fixed settings: the same rows in the same order give the same bytes.
  return `COPY (${select}) TO ${quote(path)} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 3, ROW_GROUP_SIZE 122880)`;
}

/**
 * The rows of a curated file in its order: a plain scan of the view (preserve_insertion_order
 * keeps the stage's sorted order), so nothing is sorted again. The tag list is split from the
 * tidy tag text here, and the coordinates made.
 */
export function curatedSelect(table: CuratedTable): string {
  return `SELECT ${columnNames(table).map((c) => WRITTEN_AS[c] ?? c).join(', ')} FROM ${table}`;
}
