// zlib inflate (RFC 1950 wrapper around RFC 1951 DEFLATE), for PNG image data.
// SpiderMonkey inside the component has no synchronous zlib, so the plugin carries its
// own: canonical Huffman tables decoded bit by bit from a small lookup of code lengths.

const LENGTH_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59,
  67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4,
  5, 5, 5, 5, 0];
const DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513,
  769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10,
  11, 11, 12, 12, 13, 13];
const CL_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

export class InflateError extends Error {}

// A canonical Huffman code as a fast table: index = next 9 bits (LSB first, reversed code),
// value = symbol << 4 | length; longer codes fall back to a per-length walk.
class Huffman {
  constructor(lengths) {
    this.counts = new Uint16Array(16);
    for (const l of lengths) this.counts[l]++;
    this.counts[0] = 0;
    const offsets = new Uint16Array(16);
    for (let i = 1; i < 16; i++) offsets[i] = offsets[i - 1] + this.counts[i - 1];
    this.symbols = new Uint16Array(lengths.length);
    for (let s = 0; s < lengths.length; s++) {
      if (lengths[s]) this.symbols[offsets[lengths[s]]++] = s;
    }
  }
}

class Bits {
  constructor(data, pos) { this.data = data; this.pos = pos; this.buf = 0; this.n = 0; }
  need(k) {
    while (this.n < k) {
      if (this.pos >= this.data.length) throw new InflateError('compressed data is cut short');
      this.buf |= this.data[this.pos++] << this.n;
      this.n += 8;
    }
  }
  bits(k) {
    if (k === 0) return 0;
    this.need(k);
    const v = this.buf & ((1 << k) - 1);
    this.buf >>>= k;
    this.n -= k;
    return v;
  }
  decode(h) {
    // Canonical decoding one bit at a time (zlib's "puff" method): short and exact.
    let code = 0, first = 0, index = 0;
    for (let len = 1; len < 16; len++) {
      code |= this.bits(1);
      const count = h.counts[len];
      if (code - count < first) return h.symbols[index + (code - first)];
      index += count;
      first += count;
      first <<= 1;
      code <<= 1;
    }
    throw new InflateError('invalid Huffman code');
  }
}

let FIXED = null;
function fixedTables() {
  if (FIXED) return FIXED;
  const l = new Uint8Array(288);
  l.fill(8, 0, 144); l.fill(9, 144, 256); l.fill(7, 256, 280); l.fill(8, 280, 288);
  FIXED = [new Huffman(l), new Huffman(new Uint8Array(30).fill(5))];
  return FIXED;
}

function dynamicTables(b) {
  const nlen = b.bits(5) + 257, ndist = b.bits(5) + 1, ncode = b.bits(4) + 4;
  const cl = new Uint8Array(19);
  for (let i = 0; i < ncode; i++) cl[CL_ORDER[i]] = b.bits(3);
  const clh = new Huffman(cl);
  const lengths = new Uint8Array(nlen + ndist);
  for (let i = 0; i < nlen + ndist;) {
    const sym = b.decode(clh);
    if (sym < 16) { lengths[i++] = sym; continue; }
    let rep, val = 0;
    if (sym === 16) {
      if (i === 0) throw new InflateError('repeat with no previous length');
      val = lengths[i - 1]; rep = 3 + b.bits(2);
    } else if (sym === 17) rep = 3 + b.bits(3);
    else rep = 11 + b.bits(7);
    if (i + rep > nlen + ndist) throw new InflateError('too many code lengths');
    lengths.fill(val, i, i + rep); i += rep;
  }
  return [new Huffman(lengths.subarray(0, nlen)), new Huffman(lengths.subarray(nlen))];
}

/** Inflates a zlib stream; `expected` (the decoded size, when known) sizes the output once. */
export function inflate(data, expected = 0) {
  if (data.length < 2 || (data[0] & 0x0f) !== 8 || ((data[0] << 8) | data[1]) % 31 !== 0) {
    throw new InflateError('not a zlib stream');
  }
  if (data[1] & 0x20) throw new InflateError('zlib preset dictionaries are not supported');
  let out = new Uint8Array(expected || data.length * 4);
  let n = 0;
  const grow = (k) => {
    if (n + k <= out.length) return;
    const bigger = new Uint8Array(Math.max(out.length * 2, n + k));
    bigger.set(out.subarray(0, n)); out = bigger;
  };
  const b = new Bits(data, 2);
  let last = 0;
  while (!last) {
    last = b.bits(1);
    const type = b.bits(2);
    if (type === 0) {
      b.buf = 0; b.n = 0; // to a byte boundary
      if (b.pos + 4 > data.length) throw new InflateError('stored block header cut short');
      const len = data[b.pos] | (data[b.pos + 1] << 8);
      const nlen = data[b.pos + 2] | (data[b.pos + 3] << 8);
      if ((len ^ 0xffff) !== nlen) throw new InflateError('stored block length check failed');
      b.pos += 4;
      if (b.pos + len > data.length) throw new InflateError('stored block cut short');
      grow(len); out.set(data.subarray(b.pos, b.pos + len), n); n += len; b.pos += len;
      continue;
    }
    if (type === 3) throw new InflateError('invalid block type 3');
    const [lit, dist] = type === 1 ? fixedTables() : dynamicTables(b);
    for (;;) {
      const sym = b.decode(lit);
      if (sym < 256) { grow(1); out[n++] = sym; continue; }
      if (sym === 256) break;
      const li = sym - 257;
      if (li >= 29) throw new InflateError('invalid length symbol');
      const len = LENGTH_BASE[li] + b.bits(LENGTH_EXTRA[li]);
      const di = b.decode(dist);
      if (di >= 30) throw new InflateError('invalid distance symbol');
      const d = DIST_BASE[di] + b.bits(DIST_EXTRA[di]);
      if (d > n) throw new InflateError('distance reaches before the start');
      grow(len);
      for (let k = 0; k < len; k++, n++) out[n] = out[n - d];
    }
  }
  return out.subarray(0, n);
}
