import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TypedRecord } from '../lib/contracts.js';
import { ConfigError, DependencyError, InputError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';

/** Where emulated records go: NDJSON to a file or stdout, or batches posted to ingest. */
export interface PostOutput {
  write(records: TypedRecord[]): Promise<void>;
  /** Sends or writes whatever is buffered and releases the destination. */
  close(): Promise<void>;
  /** Records the destination refused (ingest's per-line rejections). */
  readonly rejected: number;
  /** Records sent more than once before they were acknowledged. */
  readonly retried: number;
}

const CHUNK_BYTES = 64 * 1024;

export class NdjsonOutput implements PostOutput {
  readonly rejected = 0;
  readonly retried = 0;
  private pending = '';

  private constructor(
    private readonly stream: Writable,
    private readonly ownsStream: boolean,
  ) {}

  static toStdout(): NdjsonOutput {
    return new NdjsonOutput(process.stdout, false);
  }

  static async toFile(path: string): Promise<NdjsonOutput> {
    const stream = createWriteStream(path, { flags: 'w' });
    await Promise.race([
      once(stream, 'open'),
      once(stream, 'error').then(([error]) => {
        throw new ConfigError(`--out: cannot write ${path}: ${(error as Error).message}`);
      }),
    ]);
    return new NdjsonOutput(stream, true);
  }

  async write(records: TypedRecord[]): Promise<void> {
    for (const record of records) this.pending += `${JSON.stringify(record)}\n`;
    if (this.pending.length >= CHUNK_BYTES) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.pending === '') return;
    const chunk = this.pending;
    this.pending = '';
    if (!this.stream.write(chunk)) await once(this.stream, 'drain');
  }

  async close(): Promise<void> {
    await this.flush();
    if (this.ownsStream) {
      this.stream.end();
      await once(this.stream, 'finish');
    } else {
      await new Promise<void>((resolve) => this.stream.write('', () => resolve()));
    }
  }
}

export interface HttpOutputOptions {
  url: string;
  apiKey?: string | undefined;
  /** Records per POST /v1/events request. */
  batchSize: number;
  /** How long one batch is retried on 429/503/network failures before the emulator gives up. */
  retryDeadlineMs: number;
  logger: Logger;
  signal: AbortSignal;
  fetchImpl?: typeof fetch;
}

interface BatchResponse {
  rejected?: unknown[];
}

/**
 * Posts NDJSON batches to ingest's /v1/events. Backpressure from ingest (429/503 with
 * Retry-After) and outages are retried with backoff until --retry-deadline; a batch is only
 * dropped from memory once ingest acknowledged it, so nothing the emulator produced is silently
 * lost. Each line carries an event id made once, when the record is taken, so a batch sent again
 * after a timeout or a 503 is counted once downstream. What waits is bounded: write() waits for
 * a full batch to be delivered before taking more.
 */
export class HttpOutput implements PostOutput {
  rejected = 0;
  /** Records of batches that needed more than one attempt. */
  retried = 0;
  private lines: string[] = [];
  private readonly endpoint: string;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: HttpOutputOptions) {
    this.endpoint = new URL('v1/events', options.url.endsWith('/') ? options.url : `${options.url}/`).toString();
    this.fetchImpl = options.fetchImpl ?? fetch;
  }

  async write(records: TypedRecord[]): Promise<void> {
    for (const record of records) this.lines.push(JSON.stringify({ ...record, eventId: randomUUID() }));
    while (this.lines.length >= this.options.batchSize) await this.flush(this.options.batchSize);
  }

  async close(): Promise<void> {
    while (this.lines.length > 0) await this.flush(this.options.batchSize);
  }

  /** Sends the oldest `size` lines; they leave the buffer only once ingest has acknowledged them. */
  private async flush(size: number): Promise<void> {
    const batch = this.lines.slice(0, size);
    await this.send(`${batch.join('\n')}\n`, batch.length);
    this.lines = this.lines.slice(batch.length);
  }

  private async send(body: string, count: number): Promise<void> {
    const headers: Record<string, string> = { 'content-type': 'application/x-ndjson' };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    const giveUpAt = Date.now() + this.options.retryDeadlineMs;
    for (let attempt = 1; ; attempt += 1) {
      let retryAfterMs: number;
      let failure: string;
      try {
        const response = await this.fetchImpl(this.endpoint, { method: 'POST', headers, body });
        if (response.ok || response.status === 207) {
          const parsed = (await response.json().catch(() => ({}))) as BatchResponse;
          const rejected = Array.isArray(parsed.rejected) ? parsed.rejected.length : 0;
          if (rejected > 0) {
            this.rejected += rejected;
            this.options.logger.warn('ingest rejected records', { rejected, sample: parsed.rejected?.slice(0, 3) });
          }
          if (attempt > 1) this.retried += count;
          return;
        }
        const text = await response.text().catch(() => '');
        if (response.status === 401 || response.status === 403) {
          throw new ConfigError(`--api-key / PINPIPE_API_KEY: ingest at ${this.endpoint} answered ${response.status}: ${text.slice(0, 200)}`);
        }
        if (response.status === 413) {
          throw new InputError(`ingest at ${this.endpoint} refused a batch of ${count} records as too large (413); lower --batch-size`);
        }
        if (response.status === 400) {
          // A whole-batch 400 means every line was refused: count them and go on, like partial rejects.
          this.rejected += count;
          this.options.logger.warn('ingest rejected a batch', { status: 400, records: count, body: text.slice(0, 500) });
          return;
        }
        if (response.status !== 429 && response.status < 500) {
          throw new DependencyError(`ingest at ${this.endpoint} answered ${response.status}: ${text.slice(0, 200)}`);
        }
        retryAfterMs = retryAfter(response.headers.get('retry-after'), attempt);
        failure = `stayed busy (${response.status})`;
        this.options.logger.warn('ingest is busy, retrying', { status: response.status, attempt, retryAfterMs });
      } catch (error) {
        if (error instanceof ConfigError || error instanceof InputError || error instanceof DependencyError) throw error;
        retryAfterMs = backoff(attempt);
        failure = `could not be reached (${(error as Error).message})`;
        this.options.logger.warn('ingest unreachable, retrying', { attempt, retryAfterMs, error: (error as Error).message });
      }
      if (Date.now() + retryAfterMs > giveUpAt) {
        throw new DependencyError(
          `ingest at ${this.endpoint} ${failure} for longer than --retry-deadline (${Math.round(this.options.retryDeadlineMs / 1000)} s, ${attempt} attempts); ${count} records of this batch were not delivered`,
        );
      }
      // Not abortable: a stop request still delivers the batch already taken, within the deadline.
      await sleep(retryAfterMs);
    }
  }
}

function backoff(attempt: number): number {
  return Math.min(10_000, 100 * 2 ** (attempt - 1));
}

function retryAfter(header: string | null, attempt: number): number {
  if (header !== null) {
    const seconds = Number(header);
    if (Number.isFinite(seconds) && seconds >= 0) return Math.min(60_000, seconds * 1000);
    const at = Date.parse(header);
    if (!Number.isNaN(at)) return Math.max(0, Math.min(60_000, at - Date.now()));
  }
  return backoff(attempt);
}
