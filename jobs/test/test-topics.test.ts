import { describe, expect, it } from 'vitest';
import { privateTopics, uniqueName } from './services.js';
import { testTopicTime } from './test-topics.js';

describe('testTopicTime', () => {
  it('reads when a test named its topics, in each form the tests use', () => {
    const before = Date.now();
    const names = [...Object.values(privateTopics('it-ingest')), `${uniqueName('it-sink')}-2`.replace(/_/g, '-'), uniqueName('pinpipe-it').replace(/_/g, '-'), `${uniqueName('it-agg').replace(/_/g, '-')}.pin`];
    for (const name of names) {
      const namedAt = testTopicTime(name);
      expect(namedAt, name).toBeGreaterThanOrEqual(before);
      expect(namedAt, name).toBeLessThanOrEqual(Date.now());
    }
  });

  it('leaves every other topic alone', () => {
    for (const name of ['pinpipe.pin', 'pinpipe.geo', 'pinpipe.dead-letter', '__consumer_offsets', 'bench-sink-1-mx6gnkfr-0', 'it', 'it-ingest.pin']) {
      expect(testTopicTime(name), name).toBeUndefined();
    }
  });
});
