import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DependencyError } from '../lib/errors.js';
import { sinkPositionKey } from '../lib/lake.js';
import { s3Status } from '../lib/s3.js';
import { EMPTY_POSITION, parsePosition, type LakePosition } from './position.js';
import type { ObjectStore } from './types.js';

const END_OFFSET = 'end-offset';

/**
 * Conditional writes make "first writer wins" atomic on S3 and MinIO: If-None-Match: * for
 * objects, whose end offset travels as metadata so a later writer can learn where one stops, and
 * If-Match on the ETag for the position object, a compare-and-swap between writers.
 */
export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly contentType = 'application/x-ndjson',
  ) {}

  async putIfAbsent(key: string, body: Buffer, endOffset: number, records: number): Promise<{ created: true } | { created: false; endOffset: number }> {
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          IfNoneMatch: '*',
          ContentType: this.contentType,
          ContentEncoding: 'gzip',
          Metadata: { [END_OFFSET]: String(endOffset), records: String(records) },
        }),
      );
      return { created: true };
    } catch (error) {
      if (s3Status(error) !== 412) throw new DependencyError(`S3 put of ${key} failed`, { cause: error });
    }
    const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key })).catch((error: unknown) => {
      throw new DependencyError(`S3 head of ${key} failed`, { cause: error });
    });
    const stored = Number(head.Metadata?.[END_OFFSET]);
    if (!Number.isSafeInteger(stored)) throw new DependencyError(`S3 object ${key} exists but carries no ${END_OFFSET} metadata; it was not written by s3-sink`);
    return { created: false, endOffset: stored };
  }

  async readPosition(topic: string, partition: number): Promise<{ position: LakePosition; version: string | undefined }> {
    const key = sinkPositionKey(topic, partition);
    try {
      const got = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      const text = (await got.Body?.transformToString('utf8')) ?? '';
      return { position: parsePosition(text, `s3://${this.bucket}/${key}`), version: got.ETag };
    } catch (error) {
      if (s3Status(error) === 404) return { position: EMPTY_POSITION, version: undefined };
      if (error instanceof Error && !('$metadata' in error)) throw error;
      throw new DependencyError(`S3 get of ${key} failed`, { cause: error });
    }
  }

  async writePosition(topic: string, partition: number, position: LakePosition, version: string | undefined): Promise<string | undefined> {
    const key = sinkPositionKey(topic, partition);
    const body = `${JSON.stringify({ topic, partition, updatedAt: new Date().toISOString(), ...position })}\n`;
    try {
      const put = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: 'application/json',
          ...(version === undefined ? { IfNoneMatch: '*' } : { IfMatch: version }),
        }),
      );
      return put.ETag;
    } catch (error) {
      // 412: changed since it was read; 409: created by another writer at the same moment.
      const status = s3Status(error);
      if (status === 412 || status === 409) return undefined;
      throw new DependencyError(`S3 put of ${key} failed`, { cause: error });
    }
  }
}
