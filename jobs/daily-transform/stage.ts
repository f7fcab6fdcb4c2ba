import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { DependencyError, InputError } from '../lib/errors.js';

/** Every key under a prefix, sorted. */
export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  try {
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
      token = page.NextContinuationToken;
    } while (token);
  } catch (error) {
    throw new DependencyError(`could not list s3://${bucket}/${prefix}`, { cause: error });
  }
  return keys.sort();
}

/** Output chunks of the gunzip stream: big enough that the thread pool is not handed tiny tasks. */
const GUNZIP_CHUNK_BYTES = 256 * 1024;

/**
 * Downloads one object to a local file, streaming (no whole object in memory). With `gunzip`, the
 * object is decompressed on the way (on the thread pool, while the next bytes arrive), so DuckDB
 * reads plain NDJSON: its own gzip reader costs it more CPU than the JSON parsing does.
 */
export async function download(s3: S3Client, bucket: string, key: string, path: string, signal?: AbortSignal, gunzip = false): Promise<void> {
  try {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
    const body = got.Body as Readable;
    if (gunzip) await pipeline(body, createGunzip({ chunkSize: GUNZIP_CHUNK_BYTES }), createWriteStream(path), { signal });
    else await pipeline(body, createWriteStream(path), { signal });
  } catch (error) {
    if (signal?.aborted) throw error;
    if (isZlibError(error)) throw new InputError(`raw object s3://${bucket}/${key} is not valid gzip: ${(error as Error).message}`, { cause: error });
    throw new DependencyError(`could not download s3://${bucket}/${key}`, { cause: error });
  }
}

function isZlibError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('Z_');
}

/** Runs tasks with at most `concurrency` at a time, in the order they were handed in. */
function queue(concurrency: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async (task) => {
    if (active >= concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
    active += 1;
    try {
      return await task();
    } finally {
      active -= 1;
      waiting.shift()?.();
    }
  };
}

/**
 * Where a key is staged: the key's last three parts, so names stay unique and readable in
 * reports; without ".gz" when it is decompressed on the way.
 */
function localPath(dir: string, key: string, gunzip: boolean): string {
  const name = key.split('/').slice(-3).join('_');
  return join(dir, gunzip ? name.replace(/\.gz$/, '') : name);
}

/**
 * Downloads keys into dir with a few requests in flight; local names are the keys with "/"
 * replaced, so they stay unique and keep the object name visible in reports.
 */
export async function stageObjects(s3: S3Client, bucket: string, keys: readonly string[], dir: string, concurrency = 4, signal?: AbortSignal): Promise<string[]> {
  const [staged] = stageGroups(s3, bucket, [{ keys, dir }], concurrency, signal);
  return staged as Promise<string[]>;
}

/**
 * Downloads several groups of keys through one queue, in the order given, and answers each
 * group's local paths as soon as that group is down: the caller can work on the first group
 * while the next ones download. Every promise is observed, so a group nobody awaits after an
 * earlier failure does not end the process with an unhandled rejection.
 */
export function stageGroups(
  s3: S3Client,
  bucket: string,
  groups: ReadonlyArray<{ keys: readonly string[]; dir: string; gunzip?: boolean }>,
  concurrency = 4,
  signal?: AbortSignal,
): Array<Promise<string[]>> {
  const limit = queue(concurrency);
  return groups.map(({ keys, dir, gunzip = false }) => {
    const made = mkdir(dir, { recursive: true });
    const paths = keys.map((key) => localPath(dir, key, gunzip));
    const staged = Promise.all(keys.map((key, i) => limit(async () => {
      await made;
      await download(s3, bucket, key, paths[i] as string, signal, gunzip);
    }))).then(() => paths);
    staged.catch(() => undefined);
    return staged;
  });
}
