import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DependencyError } from '../lib/errors.js';
import type { ObjectStore } from './types.js';

const END_OFFSET = 'end-offset';

/**
 * Conditional writes (If-None-Match: *) make "first writer wins" atomic on S3 and MinIO; the end
 * offset travels as object metadata so a later writer can learn where the object stops.
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
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status !== 412) throw new DependencyError(`S3 put of ${key} failed`, { cause: error });
    }
    const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key })).catch((error: unknown) => {
      throw new DependencyError(`S3 head of ${key} failed`, { cause: error });
    });
    const stored = Number(head.Metadata?.[END_OFFSET]);
    if (!Number.isSafeInteger(stored)) throw new DependencyError(`S3 object ${key} exists but carries no ${END_OFFSET} metadata; it was not written by s3-sink`);
    return { created: false, endOffset: stored };
  }
}
