import { describe, expect, it } from 'vitest';
import { ConfigError } from '../lib/errors.js';
import { runCli } from '../test/cli.js';
import { parseReplication, replicationCql } from './options.js';

describe('--replication', () => {
  it('reads SimpleStrategy and NetworkTopologyStrategy maps into CQL', () => {
    expect(replicationCql(parseReplication('{"class":"SimpleStrategy","replication_factor":1}'))).toBe("{'class': 'SimpleStrategy', 'replication_factor': 1}");
    expect(replicationCql(parseReplication('{"class":"NetworkTopologyStrategy","dc1":3,"dc-2":"2"}'))).toBe("{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc-2': 2}");
  });

  it('names what is wrong', () => {
    expect(() => parseReplication('SimpleStrategy')).toThrow(ConfigError);
    expect(() => parseReplication('{"class":"SimpleStrategy"}')).toThrow('--replication / PINPIPE_REPLICATION: SimpleStrategy takes exactly one "replication_factor" between 1 and 99');
    expect(() => parseReplication('{"class":"NetworkTopologyStrategy"}')).toThrow(/one "<datacenter>": <factor 1-99> entry per datacenter/);
    expect(() => parseReplication('{"class":"NetworkTopologyStrategy","dc1":"x\'; DROP"}')).toThrow(ConfigError);
    expect(() => parseReplication('{"class":"EverywhereStrategy"}')).toThrow(/"class" must be "SimpleStrategy" or "NetworkTopologyStrategy"/);
  });
});

describe('pinpipe cassandra-load settings', () => {
  it('rejects a bad --date with one line and exit 2', async () => {
    const { code, stdout, stderr } = await runCli(['cassandra-load', '--date', 'yesterday']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trim()).toBe('pinpipe: --date / PINPIPE_DATE: "yesterday" is not a calendar date in YYYY-MM-DD form (see pinpipe cassandra-load --help)');
  });

  it('rejects a bad replication map and keyspace name before connecting', async () => {
    const replication = await runCli(['cassandra-load', '--date', '2031-01-01', '--replication', '{"class":"SimpleStrategy","replication_factor":0}']);
    expect(replication.code).toBe(2);
    expect(replication.stderr).toMatch(/^pinpipe: --replication \/ PINPIPE_REPLICATION: SimpleStrategy takes exactly one/);
    const keyspace = await runCli(['cassandra-load', '--date', '2031-01-01', '--cassandra-keyspace', 'Bad-Name']);
    expect(keyspace.code).toBe(2);
    expect(keyspace.stderr).toMatch(/^pinpipe: --cassandra-keyspace \/ PINPIPE_CASSANDRA_KEYSPACE: has an invalid value/);
  });
});
