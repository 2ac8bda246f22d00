#!/usr/bin/env node
// `framepipe-js build app.js -o plugin.wasm`: bundles the app with the SDK (rolldown;
// the host's `framepipe:` and `wasi:` imports stay imports), then ComponentizeJS builds a
// component of the framepipe:plugin world from the bundle, with the WIT this SDK ships.
// `framepipe-js wit` prints that WIT directory.

import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const SDK_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WIT_DIR = join(SDK_DIR, 'wit');
const WORLD = 'plugin';

// The build tools: from FRAMEPIPE_JS_MODULES (a node_modules directory holding the
// pinned versions, as tests/plugin-toolchains.sh makes) when set, else as Node resolves
// them from this package (installed with it by npm).
async function load(pkg) {
  const modules = process.env.FRAMEPIPE_JS_MODULES;
  if (!modules) return import(pkg);
  const dir = join(modules, pkg);
  const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
  let entry = manifest.exports?.['.'] ?? manifest.exports ?? manifest.module ?? manifest.main;
  while (entry && typeof entry === 'object') entry = entry.import ?? entry.default ?? entry.node;
  if (typeof entry !== 'string') throw new Error(`cannot find the entry point of ${dir}`);
  return import(pathToFileURL(join(dir, entry)).href);
}

function usage(message) {
  if (message) console.error(`framepipe-js: ${message}`);
  console.error('usage: framepipe-js build APP.js [-o OUT.wasm]\n       framepipe-js wit');
  process.exit(2);
}

async function bundle(entry, outFile) {
  const { rolldown } = await load('rolldown');
  const build = await rolldown({
    input: entry,
    // The app gets this SDK, whatever copy its own node_modules holds.
    resolve: { alias: { '@framepipe/plugin': join(SDK_DIR, 'src', 'index.js') } },
    external: [/^framepipe:/, /^wasi:/],
    platform: 'neutral',
    logLevel: 'warn',
  });
  await build.write({ file: outFile, format: 'esm', codeSplitting: false });
  await build.close();
}

async function main(argv) {
  const [command, ...rest] = argv;
  if (command === 'wit') {
    console.log(WIT_DIR);
    return;
  }
  if (command !== 'build') usage(command ? `unknown command ${command}` : undefined);
  let app;
  let out = 'plugin.wasm';
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '-o' || rest[i] === '--output') out = rest[++i];
    else if (!app) app = rest[i];
    else usage(`unexpected argument ${rest[i]}`);
  }
  if (!app || !out) usage('name the app module');
  const { componentize } = await load('@bytecodealliance/componentize-js');
  const work = await mkdtemp(join(tmpdir(), 'framepipe-js-'));
  try {
    const bundled = join(work, 'bundle.js');
    await bundle(resolve(app), bundled);
    const { component } = await componentize({
      sourcePath: bundled,
      witPath: WIT_DIR,
      worldName: WORLD,
      // No outbound HTTP through fetch(): plugins reach hosts only as the pipeline grants.
      disableFeatures: ['http', 'fetch-event'],
    });
    await writeFile(out, component);
    const { size } = await stat(out);
    console.log(`built ${out} (${(size / 1048576).toFixed(1)} MiB)`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).catch((e) => {
  console.error(`framepipe-js: ${e?.stack ?? e}`);
  process.exit(1);
});
