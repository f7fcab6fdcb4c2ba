import { gunzipSync } from 'node:zlib';
import { DeleteBucketCommand, DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';

export interface LakeLine {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  ingest_time: number | null;
  event_id: string | null;
  key: string | null;
  record: Record<string, unknown>;
}

export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = page.NextContinuationToken;
  } while (token);
  return keys;
}

export async function readObjectLines<T = LakeLine>(s3: S3Client, bucket: string, key: string): Promise<T[]> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const bytes = Buffer.from(await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
  return gunzipSync(bytes)
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T);
}

/** Every line under a prefix, with the key of the object it came from. */
export async function readLake(s3: S3Client, bucket: string, prefix: string): Promise<Array<LakeLine & { objectKey: string }>> {
  const out: Array<LakeLine & { objectKey: string }> = [];
  for (const key of await listKeys(s3, bucket, prefix)) {
    for (const line of await readObjectLines(s3, bucket, key)) out.push({ ...line, objectKey: key });
  }
  return out;
}

/** Polls until `check` returns true or the time runs out; returns whether it did. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, intervalMs = 250): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return check();
}

/** Deletes a test's bucket and everything in it; a bucket that is not there is fine. */
export async function removeBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    for (;;) {
      const keys = (await s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1000 }))).Contents?.map((o) => ({ Key: o.Key as string })) ?? [];
      if (keys.length === 0) break;
      await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
    }
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
  } catch (error) {
    if ((error as { name?: string }).name !== 'NoSuchBucket') throw error;
  }
}
