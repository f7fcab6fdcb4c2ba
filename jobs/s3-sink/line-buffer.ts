/**
 * Chunks start small, so a partition with a trickle of records holds little, and double up to
 * the largest size; a line longer than that gets a chunk of its own size.
 */
const FIRST_CHUNK_BYTES = 64 * 1024;
const CHUNK_BYTES = 1024 * 1024;
/** Up to this many bytes are copied by a loop rather than TypedArray#set. */
const SHORT_BYTES = 48;

/**
 * Lake lines of one partition as bytes, in chunks allocated outside the V8 heap. Holding tens of
 * thousands of lines as JavaScript strings until their object is written made every garbage
 * collection copy and mark them; here they are plain memory the collector never walks, and the
 * object body is these bytes as they stand.
 */
export class LineBuffer {
  private readonly chunks: Buffer[] = [];
  private current: Buffer | undefined;
  private used = 0;
  /** Bytes in full chunks before the current one. */
  private sealed = 0;

  /** Bytes written so far. */
  get length(): number {
    return this.sealed + this.used;
  }

  /** Makes room for `bytes` more in the current chunk, so a line never straddles two chunks. */
  reserve(bytes: number): void {
    if (this.current !== undefined && this.current.length - this.used >= bytes) return;
    if (this.current !== undefined) {
      this.chunks[this.chunks.length - 1] = this.current.subarray(0, this.used);
      this.sealed += this.used;
    }
    const size = Math.min(CHUNK_BYTES, FIRST_CHUNK_BYTES * 2 ** this.chunks.length);
    this.current = Buffer.allocUnsafeSlow(Math.max(size, bytes));
    this.chunks.push(this.current);
    this.used = 0;
  }

  /** Writes a string as UTF-8 into the room reserved. */
  writeString(text: string): void {
    this.used += (this.current as Buffer).write(text, this.used, 'utf8');
  }

  /** Copies bytes into the room reserved. */
  writeBytes(bytes: Buffer): void {
    const current = this.current as Buffer;
    if (bytes.length <= SHORT_BYTES) {
      // A few bytes (a lineage piece, a key) are copied quicker than TypedArray#set is called.
      for (let i = 0; i < bytes.length; i += 1) current[this.used + i] = bytes[i] as number;
    } else {
      // TypedArray#set is a V8 builtin; Buffer#copy goes through more JavaScript per call.
      current.set(bytes, this.used);
    }
    this.used += bytes.length;
  }

  /** Writes a non-negative safe integer in decimal, as String(n) would, without making the string. */
  writeDigits(n: number): void {
    if (n < 1e8) {
      this.writeSmallDigits(n, n < 10 ? 1 : n < 100 ? 2 : n < 1e3 ? 3 : n < 1e4 ? 4 : n < 1e5 ? 5 : n < 1e6 ? 6 : n < 1e7 ? 7 : 8);
      return;
    }
    // Two halves under 2^31, so the digit loop does integer arithmetic (timestamps have 13 digits).
    const high = Math.floor(n / 1e8);
    this.writeDigits(high);
    this.writeSmallDigits(n - high * 1e8, 8);
  }

  /** Writes n (under 10^8) as exactly `digits` decimal digits, zero-padded. */
  private writeSmallDigits(n: number, digits: number): void {
    const current = this.current as Buffer;
    let rest = n | 0;
    for (let at = this.used + digits - 1; at >= this.used; at -= 1) {
      const tenth = (rest / 10) | 0;
      current[at] = 0x30 + rest - tenth * 10;
      rest = tenth;
    }
    this.used += digits;
  }

  writeByte(byte: number): void {
    (this.current as Buffer)[this.used] = byte;
    this.used += 1;
  }

  /** The bytes from position `from` up to `to` (the end by default), as views of the chunks (nothing is copied). */
  views(from = 0, to = this.length): Buffer[] {
    const out: Buffer[] = [];
    let start = 0;
    for (let i = 0; i < this.chunks.length && start < to; i += 1) {
      const chunk = i === this.chunks.length - 1 ? (this.current as Buffer).subarray(0, this.used) : (this.chunks[i] as Buffer);
      const end = start + chunk.length;
      if (end > from) out.push(chunk.subarray(Math.max(from - start, 0), Math.min(to, end) - start));
      start = end;
    }
    return out;
  }
}
