import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../lib/errors.js';

/** RFC 6750 b64token: the characters a bearer token may hold. */
const TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
export const MIN_KEY_LENGTH = 16;

/**
 * Keys from an --api-keys-file: one per line; `#` starts a comment, surrounding spaces and
 * blank lines are ignored. Throws ConfigError naming the line of a key that cannot work.
 */
export function parseApiKeysFile(text: string, source: string): string[] {
  const keys: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const hash = raw.indexOf('#');
    const key = (hash === -1 ? raw : raw.slice(0, hash)).trim();
    if (key === '') return;
    checkKey(key, `--api-keys-file / PINPIPE_API_KEYS_FILE: ${source} line ${i + 1}`);
    keys.push(key);
  });
  return keys;
}

/** Keys from --api-keys / PINPIPE_API_KEYS: comma-separated. */
export function parseApiKeysList(value: string): string[] {
  const keys = value
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k !== '');
  keys.forEach((key, i) => checkKey(key, `--api-keys / PINPIPE_API_KEYS (entry ${i + 1})`));
  return keys;
}

function checkKey(key: string, where: string): void {
  if (!TOKEN.test(key)) throw new ConfigError(`${where}: an API key may hold only letters, digits and -._~+/ (then =), as a bearer token does`);
  if (key.length < MIN_KEY_LENGTH) throw new ConfigError(`${where}: an API key must be at least ${MIN_KEY_LENGTH} characters (try: openssl rand -hex 24)`);
}

export interface AuthSettings {
  apiKeys?: string | undefined;
  apiKeysFile?: string | undefined;
  authDisabled: boolean;
}

/** Reads and checks every configured key; undefined means authentication is off. */
export async function loadApiKeys(settings: AuthSettings): Promise<string[] | undefined> {
  if (settings.authDisabled) return undefined;
  const keys: string[] = [];
  if (settings.apiKeys !== undefined) keys.push(...parseApiKeysList(settings.apiKeys));
  if (settings.apiKeysFile !== undefined) {
    let text: string;
    try {
      text = await readFile(settings.apiKeysFile, 'utf8');
    } catch (error) {
      throw new ConfigError(`--api-keys-file / PINPIPE_API_KEYS_FILE: cannot read ${settings.apiKeysFile}: ${(error as Error).message}`);
    }
    keys.push(...parseApiKeysFile(text, settings.apiKeysFile));
  }
  if (keys.length === 0) {
    throw new ConfigError('--api-keys / PINPIPE_API_KEYS, --api-keys-file / PINPIPE_API_KEYS_FILE: no API key given (an empty list or file); add one, or pass --auth-disabled for local use');
  }
  return [...new Set(keys)];
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * Matches a presented token against the keys in constant time: both sides are hashed to equal
 * length, every key is compared (no early exit), so neither the position of a match nor the
 * length of a key leaks through timing.
 */
export function createKeyMatcher(keys: readonly string[]): (token: string) => boolean {
  const digests = keys.map(digest);
  return (token) => {
    const presented = digest(token);
    let match = false;
    for (const key of digests) match = timingSafeEqual(presented, key) || match;
    return match;
  };
}

export type BearerResult = { ok: true; token: string } | { ok: false; reason: 'missing' | 'malformed' };

/** Reads `Authorization: Bearer <token>`; the scheme is case-insensitive (RFC 7235). */
export function parseBearer(header: string | undefined): BearerResult {
  if (header === undefined || header.trim() === '') return { ok: false, reason: 'missing' };
  const match = /^\s*bearer\s+(\S+)\s*$/i.exec(header);
  if (!match?.[1] || !TOKEN.test(match[1])) return { ok: false, reason: 'malformed' };
  return { ok: true, token: match[1] };
}
