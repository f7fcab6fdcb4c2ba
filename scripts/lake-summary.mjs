// Summarises today's raw lake: `node scripts/lake-summary.mjs count` prints the number of records,
// `node scripts/lake-summary.mjs table` prints objects and records per topic. Reads the PINPIPE_S3_*
// and AWS_* variables that `stack/stack.sh env` exports, and PINPIPE_TOPICS (comma-separated) if set.
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const s3 = new S3Client({ region: process.env.PINPIPE_S3_REGION, endpoint: process.env.PINPIPE_S3_ENDPOINT || undefined, forcePathStyle: true });
const Bucket = process.env.PINPIPE_S3_BUCKET ?? 'pinpipe';
const today = new Date().toISOString().slice(0, 10);

const summary = {};
let total = 0;
const topics = (process.env.PINPIPE_TOPICS ?? 'pinterest.pin.v1,pinterest.geo.v1,pinterest.user.v1').split(',');
for (const topic of topics) {
  const row = (summary[topic] = { objects: 0, records: 0, hours: new Set() });
  let token;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: `raw/${topic}/dt=${today}/`, ContinuationToken: token }));
    for (const o of page.Contents ?? []) {
      const body = await s3.send(new GetObjectCommand({ Bucket, Key: o.Key }));
      const lines = gunzipSync(Buffer.from(await body.Body.transformToByteArray())).toString().split('\n').filter(Boolean);
      row.objects += 1;
      row.records += lines.length;
      row.hours.add(o.Key.split('/')[3]);
      total += lines.length;
    }
    token = page.NextContinuationToken;
  } while (token);
  row.hours = [...row.hours].sort().join(' ');
}
if (process.argv[2] === 'count') console.log(total);
else {
  console.log(`raw lake, dt=${today} (every run of today):`);
  console.table(summary);
}
