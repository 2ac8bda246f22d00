// Host-owned inputs, read by range, and outputs, written in chunks.
//
// A Blob's bytes stay on the host: `readAt(offset, length)` asks for exactly the bytes
// wanted (split into host calls of at most MAX_READ), and `read`/`seek`/`tell` give a
// file-like cursor over it. An ArtifactWriter appends; `finish()` completes it, and an
// artifact not finished when `run` returns is discarded by the host.

import { StepError, fromIoError } from './errors.js';

/** The largest read sent to the host in one call; larger reads are split. */
export const MAX_READ = 4 << 20;

const encoder = new TextEncoder();

function rethrow(e, what) {
  const mapped = fromIoError(e, what);
  throw mapped ?? e;
}

function dispose(resource) {
  const d = resource && resource[Symbol.dispose];
  if (typeof d === 'function') d.call(resource);
}

/** A read-only input whose bytes stay on the host. */
export class Blob {
  constructor(name, inner) {
    this.name = name;
    this._inner = inner;
    this.size = Number(inner.size());
    this._pos = 0;
  }

  /** Media type as the host knows it, e.g. `image/png`. */
  get mediaType() { return this._inner.mediaType(); }

  /** Up to `length` bytes at `offset` (fewer only at the end), as a Uint8Array. */
  readAt(offset, length) {
    if (offset >= this.size || length <= 0) return new Uint8Array(0);
    length = Math.min(length, this.size - offset);
    const parts = [];
    let got = 0;
    while (got < length) {
      const want = Math.min(length - got, MAX_READ);
      let chunk;
      try {
        chunk = this._inner.read(BigInt(offset + got), want);
      } catch (e) {
        rethrow(e, this.name);
      }
      if (chunk.length === 0) break;
      parts.push(chunk);
      got += chunk.length;
    }
    if (parts.length === 1) return parts[0];
    const out = new Uint8Array(got);
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }

  /** The whole input; an `invalid-input` error when it is larger than `limit` bytes. */
  readAll(limit) {
    if (this.size > limit) {
      throw StepError.invalidInput(
        `input \`${this.name}\` is ${this.size} bytes, more than the ${limit} this step reads whole`);
    }
    return this.readAt(0, this.size);
  }

  /** The whole input as UTF-8 text (same limit rule as `readAll`). */
  text(limit) { return new TextDecoder().decode(this.readAll(limit)); }

  /** Reads up to `length` bytes at the cursor and moves it. */
  read(length) {
    const data = this.readAt(this._pos, length);
    this._pos += data.length;
    return data;
  }

  /** Moves the cursor: whence 0 (start), 1 (current), 2 (end). Returns the new position. */
  seek(offset, whence = 0) {
    const base = whence === 0 ? 0 : whence === 1 ? this._pos : this.size;
    const pos = base + offset;
    if (pos < 0) throw new RangeError(`negative seek position ${pos}`);
    this._pos = pos;
    return pos;
  }

  /** The cursor's position. */
  tell() { return this._pos; }

  /** Releases the host resource now (it is also released when the run ends). */
  close() { dispose(this._inner); }
}

/** An output being written. */
export class ArtifactWriter {
  constructor(name, inner) {
    this.name = name;
    this._inner = inner;
    this.bytesWritten = 0;
    this._done = false;
  }

  /** Appends bytes (a Uint8Array, or a string written as UTF-8). */
  write(data) {
    if (this._done) throw new Error(`artifact \`${this.name}\` is already finished`);
    const bytes = typeof data === 'string' ? encoder.encode(data) : data;
    try {
      this._inner.write(bytes);
    } catch (e) {
      rethrow(e, this.name);
    }
    this.bytesWritten += bytes.length;
  }

  /** Marks the artifact complete. */
  finish() {
    if (this._done) return;
    this._done = true;
    try {
      this._inner.finish();
    } catch (e) {
      rethrow(e, this.name);
    } finally {
      dispose(this._inner);
    }
  }
}
