// Native tests of the SDK's host-free parts: `node --test test/` from sdk/js. The
// host-facing parts run in the component (host/runtime/tests/languages.rs).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { descriptor, port } from '../src/describe.js';
import { ErrorKind, StepError, fromIoError } from '../src/errors.js';

const wit = (path) => readFileSync(new URL(path, import.meta.url), 'utf8');

test('codes become prefixes in the WIT payload', () => {
  const e = StepError.invalidInput('no frames', 'NO_FRAMES');
  assert.deepEqual(e.payload, { kind: 'invalid-input', message: 'NO_FRAMES: no frames' });
  assert.equal(StepError.unavailable('later').payload.message, 'later');
  assert.throws(() => StepError.internal('x', 'not-snake'), /SCREAMING_SNAKE/);
  assert.throws(() => new StepError('bogus', 'x'), /unknown error kind/);
});

test('io errors map to kinds', () => {
  const e = fromIoError({ payload: { tag: 'limit-exceeded', val: 'read of 9 MiB' } }, 'clip');
  assert.equal(e.kind, ErrorKind.INVALID_INPUT);
  assert.equal(e.message, 'clip: limit exceeded: read of 9 MiB');
  assert.equal(fromIoError({ tag: 'failed', val: 'disk' }, 'a').kind, ErrorKind.UNAVAILABLE);
  assert.equal(fromIoError(new Error('other'), 'a'), null);
});

test('kinds match the WIT, and the shipped WIT is the repository one', () => {
  const shipped = wit('../wit/plugin.wit');
  assert.equal(shipped, wit('../../../wit/plugin.wit'), 'copy wit/plugin.wit to sdk/js/wit/');
  for (const kind of Object.values(ErrorKind)) assert.ok(shipped.includes(`${kind},`), kind);
});

test('descriptor fills defaults and serialises the schema', () => {
  const d = descriptor({ name: 'x', version: '0.1.0', description: 'd', configSchema: { type: 'object' }, inputs: [port('in', ['*/*'])] });
  assert.equal(d.configSchema, '{"type":"object"}');
  assert.deepEqual(d.inputs, [{ name: 'in', mediaTypes: ['*/*'], description: '', optional: false }]);
  assert.equal(d.minMemoryMib, 32);
  assert.throws(() => descriptor({ name: '', version: '1', description: 'd' }), /name/);
});
