// Write a framepipe plugin in JavaScript:
//
//   import { definePlugin, StepError } from '@framepipe/plugin';
//   export const step = definePlugin({
//     describe() { return { name: 'hello', version: '0.1.0', description: 'Says hello.' }; },
//     run(ctx, config) { ctx.info('hello'); return { greeting: 'hello' }; },
//   });
//
// and build with `framepipe-js build app.js -o hello.wasm` (bundles the app with this SDK,
// then ComponentizeJS embeds it in SpiderMonkey as a component of framepipe:plugin@0.1.0).

export { Context, LogLevel } from './context.js';
export { descriptor, port } from './describe.js';
export { ErrorKind, StepError } from './errors.js';
export { definePlugin } from './glue.js';
export { ArtifactWriter, Blob, MAX_READ } from './io.js';
