import { readFile } from 'node:fs/promises';
import { validateRecord, type PinRecord } from '../lib/contracts.js';
import { InputError } from '../lib/errors.js';

/** Reads real raw pins (NDJSON); every line must satisfy the pin contract. */
export async function loadSeedPins(path: string): Promise<PinRecord[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new InputError(`--seed-file: cannot read ${path}`, { cause: error, notFound: (error as NodeJS.ErrnoException).code === 'ENOENT' });
  }
  const pins: PinRecord[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new InputError(`--seed-file ${path} line ${i + 1}: not valid JSON`, { cause: error });
    }
    const checked = validateRecord('pin', value);
    if (!checked.ok) {
      const issue = checked.issues[0];
      throw new InputError(`--seed-file ${path} line ${i + 1}: field "${issue?.field}" ${issue?.reason}`);
    }
    pins.push(checked.value);
  });
  if (pins.length === 0) throw new InputError(`--seed-file ${path}: holds no pin records`);
  return pins;
}
