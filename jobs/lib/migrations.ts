import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from './errors.js';

/** One versioned schema file, V<version>__<name>.<ext>, with a checksum of its text. */
export interface SchemaFile {
  version: number;
  name: string;
  file: string;
  checksum: string;
  text: string;
}

/**
 * The versioned schema files of a folder, in version order: V001__first.sql, V002__next.sql. A
 * file of that extension named otherwise, or two files of one version, is refused, so a typo
 * never silently skips a change.
 */
export async function loadSchemaFiles(dir: string, extension: 'sql' | 'cql'): Promise<SchemaFile[]> {
  const pattern = new RegExp(`^V(\\d{3,})__([A-Za-z0-9_-]+)\\.${extension}$`);
  const files: SchemaFile[] = [];
  for (const file of (await readdir(dir)).filter((n) => n.endsWith(`.${extension}`))) {
    const m = pattern.exec(file);
    if (!m) throw new ConfigError(`schema file ${file} is not named V<version>__<name>.${extension}`);
    const text = await readFile(join(dir, file), 'utf8');
    files.push({ version: Number(m[1]), name: m[2] as string, file, checksum: createHash('sha256').update(text).digest('hex'), text });
  }
  files.sort((a, b) => a.version - b.version);
  const versions = files.map((f) => f.version);
  const repeated = versions.find((v, i) => versions.indexOf(v) !== i);
  if (repeated !== undefined) throw new ConfigError(`two schema files share version ${repeated}`);
  return files;
}
