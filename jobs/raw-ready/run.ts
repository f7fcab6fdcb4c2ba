import { setTimeout as sleep } from 'node:timers/promises';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { TOPICS } from '../lib/contracts.js';
import { DependencyError, PinpipeError } from '../lib/errors.js';
import type { JobContext } from '../lib/job.js';
import { LAKE_PREFIXES, rawDayPrefix } from '../lib/lake.js';
import { createS3Client } from '../lib/s3.js';
import type { RawReadyOptions } from './command.js';
import { judge, type TopicState } from './readiness.js';

async function list(s3: S3Client, bucket: string, input: { Prefix: string; StartAfter?: string; MaxKeys?: number }, limit: number): Promise<number> {
  let count = 0;
  let token: string | undefined;
  try {
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ...input, ContinuationToken: token }));
      count += page.KeyCount ?? page.Contents?.length ?? 0;
      token = page.NextContinuationToken;
    } while (token && count < limit);
  } catch (error) {
    throw new DependencyError(`could not list s3://${bucket}/${input.Prefix}`, { cause: error });
  }
  return count;
}

async function topicState(s3: S3Client, bucket: string, topic: string, date: string, minObjects: number): Promise<TopicState> {
  const dayPrefix = rawDayPrefix(topic, date);
  const objectsOfDay = await list(s3, bucket, { Prefix: dayPrefix }, minObjects);
  // '~' sorts after every character of a key under dt=D/, so this lists the days after D only.
  const later = await list(s3, bucket, { Prefix: `${LAKE_PREFIXES.raw}/${topic}/`, StartAfter: `${dayPrefix}~`, MaxKeys: 1 }, 1);
  return { topic, objectsOfDay, hasLaterData: later > 0 };
}

export async function runRawReady(options: RawReadyOptions, ctx: JobContext): Promise<void> {
  const s3 = createS3Client(options);
  const deadline = Date.now() + options.waitMinutes * 60_000;
  try {
    for (;;) {
      const states = await Promise.all(Object.values(TOPICS).map((t) => topicState(s3, options.s3Bucket, t, options.date, options.minObjects)));
      const verdict = judge(states, options.minObjects, options.requireLaterData);
      if (verdict.ready) {
        ctx.logger.info(`raw data of ${options.date} is ready`, { date: options.date, topics: states });
        return;
      }
      if (Date.now() + options.pollSeconds * 1000 > deadline) {
        throw new PinpipeError('PINPIPE_RAW_NOT_READY', `raw data of ${options.date} is not complete enough: ${verdict.missing.join('; ')}`);
      }
      ctx.logger.info(`waiting for raw data of ${options.date}`, { missing: verdict.missing });
      await sleep(options.pollSeconds * 1000, undefined, { signal: ctx.signal });
    }
  } finally {
    s3.destroy();
  }
}
