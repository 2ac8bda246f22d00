// Bridges a plugin object to the `step` interface ComponentizeJS exports:
//   export const step = definePlugin({ describe() {...}, run(ctx, config) {...} });
// `run` parses the config, calls the plugin and serialises its result; a StepError
// becomes the WIT `step-error`; any other exception an `internal` error naming it, with
// its stack in the job's log.

import { Context, LogLevel } from './context.js';
import { descriptor } from './describe.js';
import { StepError } from './errors.js';

/** Turns `{describe, run}` into the exported `step` interface. */
export function definePlugin(plugin) {
  if (typeof plugin?.describe !== 'function' || typeof plugin?.run !== 'function') {
    throw new TypeError('definePlugin() takes an object with describe() and run(ctx, config)');
  }
  return {
    describe() {
      return descriptor(plugin.describe());
    },
    run(configText) {
      const ctx = new Context();
      try {
        let config;
        try {
          config = JSON.parse(configText.trim() === '' ? '{}' : configText);
        } catch (e) {
          throw StepError.invalidInput(`config: ${e.message}`);
        }
        const result = plugin.run(ctx, config);
        if (result && typeof result.then === 'function') {
          throw StepError.internal('run() returned a Promise: make it synchronous');
        }
        const text = JSON.stringify(result === undefined ? null : result);
        return text;
      } catch (e) {
        if (e instanceof StepError) throw e;
        // Out of memory: let it escape as something that is not a step-error, so the
        // component traps and the host reports its refused memory growth
        // (MEMORY_LIMIT_EXCEEDED), as for a plugin in any language.
        if (isOutOfMemory(e)) throw undefined;
        try { ctx.log(LogLevel.ERROR, String(e?.stack ?? e).slice(-4000)); } catch { /* log cap */ }
        throw StepError.internal(`${e?.name ?? 'Error'}: ${e?.message ?? String(e)}`);
      }
    },
  };
}

// SpiderMonkey reports running out of memory as the string "out of memory" (not an Error).
function isOutOfMemory(e) {
  const text = typeof e === 'string' ? e : e?.message;
  return typeof text === 'string' && /out of memory|allocation size overflow/i.test(text);
}
