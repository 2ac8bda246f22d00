// Native tests of the analysis (no host needed): `node --test test/` here.
// inflate is checked against Node's zlib, the PNG decoder against ffmpeg's decoding of
// real files, the colour statistics against pictures whose answer is known.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { deflateSync, constants } from 'node:zlib';

import { analyse } from '../src/analysis.js';
import { colorStats, frameOrder } from '../src/colors.js';
import { inflate } from '../src/inflate.js';
import { decode } from '../src/png.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'tests', 'fixtures', 'generated');

test('inflate matches zlib at every level and strategy', () => {
  const text = new Uint8Array(200000);
  for (let i = 0; i < text.length; i++) text[i] = (i * 7 + (i >> 9) * 13) & 0xff ^ (i % 251 === 0 ? 0x55 : 0);
  for (const level of [0, 1, 6, 9]) {
    for (const strategy of [constants.Z_DEFAULT_STRATEGY, constants.Z_FIXED, constants.Z_HUFFMAN_ONLY]) {
      const z = deflateSync(text, { level, strategy });
      assert.deepEqual(Buffer.from(inflate(new Uint8Array(z))), Buffer.from(text), `level ${level} strategy ${strategy}`);
    }
  }
  assert.throws(() => inflate(new Uint8Array([1, 2, 3])), /not a zlib stream/);
});

test('PNG decoding matches ffmpeg on real files', () => {
  for (const name of ['astronaut.png', 'coffee.png', 'vtest-300.png']) {
    const path = join(FIXTURES, name);
    assert.ok(existsSync(path), `${path} missing: run bash tests/fixtures/make-fixtures.sh`);
    const pic = decode(new Uint8Array(readFileSync(path)));
    const raw = execFileSync('ffmpeg', ['-v', 'error', '-i', path, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 1 << 26 });
    assert.equal(raw.length, pic.width * pic.height * 3, name);
    assert.ok(Buffer.from(pic.data).equals(raw), `${name} decodes as ffmpeg does`);
  }
});

test('colour statistics of known pictures', () => {
  const solid = (r, g, b) => ({ width: 40, height: 20, data: new Uint8Array(40 * 20 * 3).map((_, i) => [r, g, b][i % 3]) });
  const grey = colorStats(solid(128, 128, 128));
  assert.equal(grey.colorfulness, 0);
  assert.equal(grey.dominantHue, null);
  assert.equal(grey.greyShare, 1);
  const red = colorStats(solid(220, 10, 10));
  assert.deepEqual(red.meanRgb, [220, 10, 10]);
  assert.equal(red.dominantHue, 'red');
  assert.ok(red.colorfulness > 50, `${red.colorfulness}`);
  assert.equal(colorStats(solid(10, 10, 220)).dominantHue, 'blue');
});

test('frames in numeric order; no PNG frames is an error saying what to change', () => {
  assert.deepEqual(frameOrder(['frame-10.png', 'frame-2.png', 'x.png', 'frames.json', 'frame-1.png']),
    ['frame-1.png', 'frame-2.png', 'frame-10.png', 'x.png']);
  assert.throws(() => analyse(['frame-0.jpg'], () => new Uint8Array(), new Map(), {}), /format = "png"/);
});
