import * as crypto from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../lib/errors.js';
import { createKeyMatcher, loadApiKeys, parseApiKeysFile, parseApiKeysList, parseBearer } from './auth.js';

vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof crypto>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

const K1 = 'k1-0123456789abcdef';
const K2 = 'k2-0123456789abcdef-longer-key';
const K3 = 'k3-0123456789ABCDEF';

describe('API keys file', () => {
  it('takes one key per line, ignoring # comments, blank lines and surrounding spaces (CRLF too)', () => {
    const text = `# ingest keys\n\n${K1}\r\n   ${K2}   # the emulator\n\t\n#${K3}\n`;
    expect(parseApiKeysFile(text, 'keys.txt')).toEqual([K1, K2]);
  });

  it('names the file and line of a key that cannot be a bearer token, or is too short', () => {
    expect(() => parseApiKeysFile(`${K1}\nhas space in it 0123456789\n`, 'keys.txt')).toThrow(ConfigError);
    expect(() => parseApiKeysFile(`${K1}\nhas space in it 0123456789\n`, 'keys.txt')).toThrow(/--api-keys-file \/ PINPIPE_API_KEYS_FILE: keys.txt line 2: an API key may hold only/);
    expect(() => parseApiKeysFile('\n\nshort\n', 'keys.txt')).toThrow(/keys.txt line 3: an API key must be at least 16 characters/);
  });
});

describe('--api-keys', () => {
  it('splits on commas and trims', () => {
    expect(parseApiKeysList(` ${K1}, ${K2} ,,`)).toEqual([K1, K2]);
  });

  it('names the entry of a bad key', () => {
    expect(() => parseApiKeysList(`${K1},bad key 0123456789abc`)).toThrow(/--api-keys \/ PINPIPE_API_KEYS \(entry 2\)/);
  });
});

describe('loadApiKeys', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('joins the list and the file, without duplicates', async () => {
    dir = await mkdtemp(join(tmpdir(), 'pinpipe-keys-'));
    const file = join(dir, 'keys');
    await writeFile(file, `${K2}\n${K1}\n`);
    expect(await loadApiKeys({ apiKeys: K1, apiKeysFile: file, authDisabled: false })).toEqual([K1, K2]);
  });

  it('returns undefined when auth is disabled', async () => {
    expect(await loadApiKeys({ apiKeys: undefined, authDisabled: true })).toBeUndefined();
  });

  it('fails with ConfigError for a missing file or one without keys', async () => {
    await expect(loadApiKeys({ apiKeysFile: '/nonexistent/keys', authDisabled: false })).rejects.toThrow(/--api-keys-file \/ PINPIPE_API_KEYS_FILE: cannot read \/nonexistent\/keys/);
    dir = await mkdtemp(join(tmpdir(), 'pinpipe-keys-'));
    const file = join(dir, 'keys');
    await writeFile(file, '# nothing yet\n\n');
    const error = await loadApiKeys({ apiKeysFile: file, authDisabled: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/no API key given/);
  });
});

describe('key matching', () => {
  it('accepts exactly the configured keys', () => {
    const matches = createKeyMatcher([K1, K2]);
    expect(matches(K1)).toBe(true);
    expect(matches(K2)).toBe(true);
    expect(matches(K3)).toBe(false);
    expect(matches(K1.slice(0, -1))).toBe(false);
    expect(matches(`${K1}x`)).toBe(false);
    expect(matches('')).toBe(false);
  });

  it('compares with timingSafeEqual against every key, even after a match', () => {
    const compare = vi.mocked(crypto.timingSafeEqual);
    const matches = createKeyMatcher([K1, K2, K3]);
    compare.mockClear();
    expect(matches(K1)).toBe(true);
    expect(compare).toHaveBeenCalledTimes(3);
    compare.mockClear();
    expect(matches('not-a-key-at-all-xxxxxxxx')).toBe(false);
    expect(compare).toHaveBeenCalledTimes(3);
    // Equal-length digests on both sides, whatever the token's length.
    for (const [a, b] of compare.mock.calls) expect((a as Buffer).length).toBe((b as Buffer).length);
  });
});

describe('Authorization header', () => {
  it('reads a bearer token, scheme case-insensitive', () => {
    expect(parseBearer(`Bearer ${K1}`)).toEqual({ ok: true, token: K1 });
    expect(parseBearer(`bearer   ${K1} `)).toEqual({ ok: true, token: K1 });
  });

  it('tells a missing header from a malformed one', () => {
    expect(parseBearer(undefined)).toEqual({ ok: false, reason: 'missing' });
    expect(parseBearer('  ')).toEqual({ ok: false, reason: 'missing' });
    for (const header of ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer a b', K1, 'Bearer ké']) {
      expect(parseBearer(header), header).toEqual({ ok: false, reason: 'malformed' });
    }
  });
});
