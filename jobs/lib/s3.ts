import { CreateBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3Options } from './config.js';
import { DependencyError } from './errors.js';

/**
 * An S3 client for AWS or an S3-compatible server. With an endpoint (MinIO, versitygw) the
 * addressing is path-style, since such servers rarely have wildcard DNS for bucket hosts.
 * Credentials follow the SDK's standard chain (AWS_ACCESS_KEY_ID, profiles, IRSA on EKS).
 */
export function createS3Client(options: S3Options): S3Client {
  const endpoint = options.s3Endpoint?.trim() || undefined;
  return new S3Client({
    region: options.s3Region,
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    maxAttempts: 5,
  });
}

/** The HTTP status of a failed S3 call (412 for a failed condition, 404 for a missing key), if it got that far. */
export function s3Status(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

/** Creates the bucket if it does not exist (local servers start empty). */
export async function ensureBucket(client: S3Client, bucket: string): Promise<void> {
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }));
    return;
  } catch (error) {
    if (s3Status(error) !== 404) throw new DependencyError(`S3 bucket "${bucket}" is not reachable`, { cause: error });
  }
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') {
      throw new DependencyError(`could not create S3 bucket "${bucket}"`, { cause: error });
    }
  }
}
