import { Type, type Static } from '@sinclair/typebox';
import type { Argv } from 'yargs';
import { option, validateSettings } from '../lib/config.js';
import { ConfigError } from '../lib/errors.js';
import { bundledDataFile } from '../lib/paths.js';

/** "90", "90s", "5m", "2h" → seconds. */
export function parseDuration(value: unknown): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(String(value));
  if (!m) return Number.NaN;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return unit === 'ms' ? n / 1000 : unit === 'm' ? n * 60 : unit === 'h' ? n * 3600 : n;
}

/** "now", "today" (00:00 UTC) or an ISO-8601 instant → epoch ms (NaN when unreadable). */
export function parseStartTime(value: string, now: number = Date.now()): number {
  if (value === 'now') return now;
  if (value === 'today') return Math.floor(now / 86_400_000) * 86_400_000;
  const text = /[zZ]|[+-]\d{2}:?\d{2}$/.test(value) || !/T|\s\d/.test(value) ? value : `${value}Z`;
  return Date.parse(text.replace(' ', 'T'));
}

export const EmulateSettings = Type.Object({
  seed: Type.Integer({ minimum: 0, maximum: 2 ** 32 - 1 }),
  count: Type.Optional(Type.Integer({ minimum: 1 })),
  duration: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'a duration such as 90, 90s, 5m or 2h' })),
  rate: Type.Number({ exclusiveMinimum: 0, maximum: 1_000_000 }),
  out: Type.Optional(Type.String({ minLength: 1 })),
  ingestUrl: Type.Optional(Type.String({ pattern: '^https?://', description: 'an http(s):// URL' })),
  batchSize: Type.Integer({ minimum: 1, maximum: 100_000 }),
  retryDeadline: Type.Number({ exclusiveMinimum: 0, maximum: 86_400, description: 'a duration such as 90s, 5m or 1h' }),
  startTime: Type.String({ minLength: 1 }),
  firstInd: Type.Integer({ minimum: 0 }),
  duplicateRate: Type.Number({ minimum: 0, maximum: 0.5 }),
  lateRate: Type.Number({ minimum: 0, maximum: 0.5 }),
  seedFile: Type.String({ minLength: 1 }),
});
export type EmulateOptions = Static<typeof EmulateSettings> & { apiKey?: string };

export function emulateOptions<T>(y: Argv<T>) {
  return y
    .options({
      ...option('seed', { type: 'number', description: 'Random seed: the same seed and settings give the same bytes', default: 1, group: 'Emulation:' }),
      ...option('count', { type: 'number', description: 'Number of posts (each post is a pin, a geo and a user record)', group: 'Emulation:' }),
      ...option('duration', { type: 'string', description: 'Stop after this long: 90, 90s, 5m, 2h', coerce: parseDuration, group: 'Emulation:' }),
      ...option('rate', { type: 'number', description: 'Posts per second: paces posting to --ingest-url and spaces the event times', default: 100, group: 'Emulation:' }),
      ...option('start-time', {
        type: 'string',
        description: 'Event time of the first post: "today" (00:00 UTC), "now" or an ISO-8601 time',
        default: 'today',
        group: 'Emulation:',
      }),
      ...option('first-ind', { type: 'number', description: 'ind of the first post', default: 1, group: 'Emulation:' }),
      ...option('duplicate-rate', { type: 'number', description: 'Share of posts that repeat an earlier post verbatim', default: 0.01, group: 'Emulation:' }),
      ...option('late-rate', { type: 'number', description: 'Share of geo events whose time lags 1-10 minutes', default: 0.005, group: 'Emulation:' }),
      ...option('seed-file', {
        type: 'string',
        description: 'NDJSON of real raw pins to draw from',
        default: bundledDataFile('pinterest_pin_sample.ndjson'),
        defaultDescription: 'data/pinterest_pin_sample.ndjson',
        group: 'Emulation:',
      }),
      ...option('out', { type: 'string', requiresArg: true, description: 'Write NDJSON batch lines to this file, or "-" for stdout (written at full speed)', group: 'Destination:' }),
      ...option('ingest-url', { type: 'string', requiresArg: true, description: 'Post to the ingest service at this base URL (POST <url>/v1/events)', group: 'Destination:' }),
      ...option('api-key', { type: 'string', description: 'Bearer token for ingest', group: 'Destination:' }),
      ...option('batch-size', { type: 'number', description: 'Records per request to ingest', default: 300, group: 'Destination:' }),
      ...option('retry-deadline', {
        type: 'string',
        description: 'How long one batch is retried, with backoff, while ingest is busy or unreachable (a Kafka outage): 90s, 5m, 1h',
        default: '5m',
        coerce: parseDuration,
        group: 'Destination:',
      }),
    })
    .conflicts('out', 'ingest-url')
    .check((argv) => {
      validateSettings(EmulateSettings, argv);
      if (Number.isNaN(parseStartTime(String(argv.startTime)))) {
        throw new ConfigError(`--start-time / PINPIPE_START_TIME: "${String(argv.startTime)}" is not "today", "now" or an ISO-8601 time`);
      }
      if (argv.out === undefined && argv.ingestUrl === undefined) throw new Error('give a destination: --out FILE, --out - (stdout) or --ingest-url URL');
      if (argv.out !== undefined && argv.count === undefined && argv.duration === undefined) {
        throw new Error('--out needs an end: --count N or --duration D');
      }
      return true;
    })
    .example('$0 emulate --count 1000 --seed 7 --out -', 'print 1000 posts (3000 NDJSON lines) to stdout')
    .example('$0 emulate --ingest-url http://127.0.0.1:8088 --rate 200 --duration 5m', 'post to ingest for five minutes');
}
