import { describe, expect, it } from 'vitest';
import { messageOf } from './producer.js';
import { partitionOffsets } from './producer-session.js';

describe('partitionOffsets', () => {
  it('maps the producer\'s answer to one base offset per topic-partition', () => {
    expect(
      partitionOffsets({
        offsets: [
          { topic: 'a', partition: 2, offset: 41n },
          { topic: 'b', partition: 0, offset: 9_007_199_254_740_993n },
        ],
      }),
    ).toEqual([
      { topic: 'a', partition: 2, baseOffset: 41n },
      { topic: 'b', partition: 0, baseOffset: 9_007_199_254_740_993n },
    ]);
    expect(partitionOffsets({})).toEqual([]);
  });
});

describe('messageOf', () => {
  it('names the last cause of an aggregate of retries', () => {
    const retried = new AggregateError([new Error('Connection closed'), new AggregateError([new Error('connect ECONNREFUSED 127.0.0.1:1')], 'Connection failed.')], 'produce failed 2 times.');
    expect(messageOf(retried)).toBe('produce failed 2 times. (Connection failed. (connect ECONNREFUSED 127.0.0.1:1))');
    expect(messageOf(new Error('plain'))).toBe('plain');
    expect(messageOf('text')).toBe('text');
  });
});
