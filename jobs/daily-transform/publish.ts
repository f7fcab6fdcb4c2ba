import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { DeleteObjectsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DependencyError } from '../lib/errors.js';
import { curatedObjectKey } from '../lib/curated.js';
import { curatedPartitionPrefix } from '../lib/lake.js';
import { listKeys } from '../lib/stage.js';

export async function putFile(s3: S3Client, bucket: string, key: string, path: string, contentType: string): Promise<void> {
  const { size } = await stat(path);
  try {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: createReadStream(path), ContentLength: size, ContentType: contentType }));
  } catch (error) {
    throw new DependencyError(`could not upload s3://${bucket}/${key}`, { cause: error });
  }
}

export async function deleteKeys(s3: S3Client, bucket: string, keys: readonly string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 1000) {
    const batch = keys.slice(i, i + 1000);
    try {
      const result = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
      if (result.Errors && result.Errors.length > 0) throw new Error(`${result.Errors.length} objects not deleted, first: ${result.Errors[0]?.Key} ${result.Errors[0]?.Message}`);
    } catch (error) {
      throw new DependencyError(`could not delete stale objects under s3://${bucket}/${keys[0]}`, { cause: error });
    }
  }
}

/**
 * Replaces day D of one curated table: a single PUT of part-0.parquet (atomic per object, so a
 * reader sees the old file or the new one, never a part of either), then deletion of anything
 * else under the day's prefix (files left by another writer or layout).
 */
export async function replacePartition(s3: S3Client, bucket: string, table: string, date: string, path: string): Promise<string> {
  const key = curatedObjectKey(table, date);
  await putFile(s3, bucket, key, path, 'application/vnd.apache.parquet');
  const stale = (await listKeys(s3, bucket, curatedPartitionPrefix(table, date))).filter((k) => k !== key);
  if (stale.length > 0) await deleteKeys(s3, bucket, stale);
  return key;
}
