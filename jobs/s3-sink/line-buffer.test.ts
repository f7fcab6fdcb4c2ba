import { describe, expect, it } from 'vitest';
import { LineBuffer } from './line-buffer.js';

function write(out: LineBuffer, text: string): void {
  out.reserve(3 * text.length);
  out.writeString(text);
}

describe('line buffer', () => {
  it('keeps strings and bytes in order across chunks, counting only bytes written', () => {
    const out = new LineBuffer();
    const big = Buffer.alloc(700 * 1024, 0x61);
    write(out, 'é\n');
    out.reserve(big.length);
    out.writeBytes(big);
    // Does not fit beside the first line: a second chunk starts, the unused room is not counted.
    out.reserve(big.length + 1);
    out.writeBytes(big);
    out.writeByte(0x0a);
    expect(out.length).toBe(3 + 2 * big.length + 1);
    const views = out.views();
    expect(views.length).toBeGreaterThan(1);
    expect(Buffer.concat(views).equals(Buffer.concat([Buffer.from('é\n'), big, big, Buffer.from('\n')]))).toBe(true);
  });

  it('gives a line longer than a chunk a chunk of its own', () => {
    const out = new LineBuffer();
    const huge = Buffer.alloc(3 * 1024 * 1024, 0x62);
    write(out, 'x');
    out.reserve(huge.length);
    out.writeBytes(huge);
    expect(out.length).toBe(1 + huge.length);
    expect(Buffer.concat(out.views()).subarray(1).equals(huge)).toBe(true);
  });

  it('starts with a small chunk and grows them', () => {
    const out = new LineBuffer();
    write(out, 'a');
    expect(out.views()[0]?.buffer.byteLength).toBe(64 * 1024);
    for (let i = 0; i < 40; i += 1) write(out, 'x'.repeat(10_000));
    const sizes = out.views().map((v) => v.buffer.byteLength);
    expect(sizes.slice(0, 3)).toEqual([64 * 1024, 128 * 1024, 256 * 1024]);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(1024 * 1024);
    expect(Buffer.concat(out.views()).toString()).toBe(`a${'x'.repeat(400_000)}`);
  });

  it('views the bytes from any position without copying', () => {
    const out = new LineBuffer();
    const a = Buffer.alloc(800 * 1024, 0x31);
    const b = Buffer.alloc(800 * 1024, 0x32);
    for (const part of [a, b]) {
      out.reserve(part.length);
      out.writeBytes(part);
    }
    expect(Buffer.concat(out.views(a.length)).equals(b)).toBe(true);
    expect(Buffer.concat(out.views(a.length - 2)).equals(Buffer.concat([a.subarray(-2), b]))).toBe(true);
    expect(Buffer.concat(out.views(a.length + 5)).equals(b.subarray(5))).toBe(true);
    expect(out.views(out.length)).toEqual([]);
  });
});
