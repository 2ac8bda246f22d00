// A small PNG decoder to 8-bit RGB: 8-bit greyscale, RGB, palette, with or without alpha,
// not interlaced (the frames step writes 8-bit RGB, never interlaced). Anything else is
// refused with a message that says why.

import { inflate } from './inflate.js';

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];
const CHANNELS = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

export class PngError extends Error {}

function u32(d, p) { return ((d[p] << 24) | (d[p + 1] << 16) | (d[p + 2] << 8) | d[p + 3]) >>> 0; }
function tag(d, p) { return String.fromCharCode(d[p], d[p + 1], d[p + 2], d[p + 3]); }

/** Decodes PNG bytes (a Uint8Array) to `{width, height, data}` with RGB bytes. */
export function decode(bytes) {
  if (bytes.length < 8 || SIGNATURE.some((v, i) => bytes[i] !== v)) {
    throw new PngError('not a PNG file (bad signature)');
  }
  let pos = 8, header = null, palette = null, ended = false;
  const idat = [];
  while (pos + 8 <= bytes.length) {
    const len = u32(bytes, pos), kind = tag(bytes, pos + 4);
    const body = bytes.subarray(pos + 8, pos + 8 + len);
    if (body.length !== len) throw new PngError(`chunk ${kind} is cut short`);
    if (kind === 'IHDR') header = body;
    else if (kind === 'PLTE') palette = body;
    else if (kind === 'IDAT') idat.push(body);
    else if (kind === 'IEND') { ended = true; break; }
    pos += 12 + len;
  }
  if (!ended) throw new PngError('no IEND chunk: the file is cut short');
  if (!header || header.length !== 13) throw new PngError('no valid IHDR chunk');
  const width = u32(header, 0), height = u32(header, 4);
  const depth = header[8], ctype = header[9], interlace = header[12];
  if (!(ctype in CHANNELS)) throw new PngError(`unknown colour type ${ctype}`);
  if (depth !== 8) throw new PngError(`bit depth ${depth} is not supported (8 only)`);
  if (interlace) throw new PngError('interlaced PNGs are not supported');
  if (!width || !height || width * height > 8192 * 8192) throw new PngError(`unsupported size ${width}x${height}`);
  const bpp = CHANNELS[ctype], stride = width * bpp;
  let total = 0;
  for (const c of idat) total += c.length;
  const zdata = new Uint8Array(total);
  let at = 0;
  for (const c of idat) { zdata.set(c, at); at += c.length; }
  const raw = inflate(zdata, height * (stride + 1));
  if (raw.length < height * (stride + 1)) throw new PngError(`image data is ${raw.length} bytes, expected ${height * (stride + 1)}`);
  const px = unfilter(raw, height, stride, bpp);
  return { width, height, data: toRgb(px, ctype, palette, width * height) };
}

function unfilter(raw, height, stride, bpp) {
  const out = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)], src = y * (stride + 1) + 1, row = y * stride, up = row - stride;
    for (let i = 0; i < stride; i++) {
      const x = raw[src + i];
      const a = i >= bpp ? out[row + i - bpp] : 0;
      const b = y > 0 ? out[up + i] : 0;
      let pred;
      switch (f) {
        case 0: pred = 0; break;
        case 1: pred = a; break;
        case 2: pred = b; break;
        case 3: pred = (a + b) >> 1; break;
        case 4: {
          const c = y > 0 && i >= bpp ? out[up + i - bpp] : 0;
          const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
          pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default: throw new PngError(`row ${y} has unknown filter type ${f}`);
      }
      out[row + i] = (x + pred) & 255;
    }
  }
  return out;
}

function toRgb(px, ctype, palette, count) {
  if (ctype === 2) return px;
  const rgb = new Uint8Array(count * 3);
  for (let i = 0; i < count; i++) {
    let r, g, b;
    if (ctype === 6) { r = px[i * 4]; g = px[i * 4 + 1]; b = px[i * 4 + 2]; }
    else if (ctype === 0) { r = g = b = px[i]; }
    else if (ctype === 4) { r = g = b = px[i * 2]; }
    else {
      const k = px[i];
      if (!palette || k * 3 + 2 >= palette.length) throw new PngError(`palette index ${k} has no entry`);
      r = palette[k * 3]; g = palette[k * 3 + 1]; b = palette[k * 3 + 2];
    }
    rgb[i * 3] = r; rgb[i * 3 + 1] = g; rgb[i * 3 + 2] = b;
  }
  return rgb;
}
