import { getMaxListeners, setMaxListeners } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { DependencyError } from './errors.js';
import { Slots } from './slots.js';

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

/** Downloads one object to a local file, streaming (no whole object in memory). */
export async function download(s3: S3Client, bucket: string, key: string, path: string, signal?: AbortSignal): Promise<void> {
  try {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
    await pipeline(got.Body as Readable, createWriteStream(path), { signal });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new DependencyError(`could not download s3://${bucket}/${key}`, { cause: error });
  }
}

/** Where a key is staged: the key's last three parts, so names stay unique and readable in reports. */
function localPath(dir: string, key: string): string {
  return join(dir, key.split('/').slice(-3).join('_'));
}

/** Downloads keys into dir with a few requests in flight: stageGroups with one group. */
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
  groups: ReadonlyArray<{ keys: readonly string[]; dir: string }>,
  concurrency = 4,
  signal?: AbortSignal,
): Array<Promise<string[]>> {
  const slots = new Slots(concurrency);
  // Each download in flight listens to the signal twice (the request and the file stream): more
  // than Node's default of 10 is expected here, not a leak, and must not print a warning.
  if (signal) setMaxListeners(Math.max(getMaxListeners(signal), 10 + 2 * concurrency), signal);
  return groups.map(({ keys, dir }) => {
    const made = mkdir(dir, { recursive: true });
    const paths = keys.map((key) => localPath(dir, key));
    const staged = Promise.all(keys.map((key, i) => slots.run(async () => {
      await made;
      await download(s3, bucket, key, paths[i] as string, signal);
    }))).then(() => paths);
    staged.catch(() => undefined);
    return staged;
  });
}
