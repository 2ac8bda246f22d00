import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counts } from '../src/analysis.js';

test('counts bytes, lines and their sum across chunks', () => {
  const c = new Counts();
  c.add(new TextEncoder().encode('ab\n'));
  c.add(new TextEncoder().encode('c\n'));
  assert.deepEqual({ ...c }, { bytes: 5, lines: 2, sum: 97 + 98 + 10 + 99 + 10 });
});
