import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { DependencyError } from '../lib/errors.js';

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

/**
 * Downloads keys into dir with a few requests in flight; local names are the keys with "/"
 * replaced, so they stay unique and keep the object name visible in reports.
 */
export async function stageObjects(s3: S3Client, bucket: string, keys: readonly string[], dir: string, concurrency = 4, signal?: AbortSignal): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const paths = keys.map((key) => join(dir, key.split('/').slice(-3).join('_')));
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < keys.length) {
      const i = next++;
      await download(s3, bucket, keys[i] as string, paths[i] as string, signal);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, keys.length) }, worker));
  return paths;
}
