// The framepipe glue: descriptor, inputs in, a CSV artifact and the JSON result out.

import { definePlugin, port, StepError } from '@framepipe/plugin';
import { AnalysisError, SCHEMA, analyse, toCsv } from './src/analysis.js';
import { frameTimes } from './src/colors.js';

// Largest input read whole (one frame, or the upstream result).
const MAX_INPUT_BYTES = 32 << 20;
const FRAMES_JSON = 'frames.json';

export const step = definePlugin({
  describe() {
    return {
      name: 'js-frame-colors',
      version: '0.1.0',
      description: 'Mean colour, colourfulness and dominant hue per frame, from PNG frames.',
      configSchema: SCHEMA,
      inputs: [
        port('*', ['image/png'], 'The frames (frame-0.png, frame-1.png, ...).'),
        port(FRAMES_JSON, ['application/json'], "The frames step's result, for frame times.", { optional: true }),
      ],
      outputs: [port('colors.csv', ['text/csv'], 'One row per frame.')],
      // Measured peak: 10.4 MiB for 320x180 frames (SpiderMonkey alone: 9 MiB at start-up).
      minMemoryMib: 32,
    };
  },

  run(ctx, config) {
    const meta = ctx.optionalInput(FRAMES_JSON);
    let times = new Map();
    if (meta) {
      try {
        times = frameTimes(JSON.parse(meta.text(MAX_INPUT_BYTES)));
      } catch (e) {
        if (e instanceof StepError) throw e;
        throw StepError.invalidInput(`${FRAMES_JSON}: ${e.message}`);
      }
    }
    const read = (name) => {
      ctx.checkCancelled();
      return ctx.openInput(name).readAll(MAX_INPUT_BYTES);
    };
    let result;
    try {
      result = analyse(ctx.inputNames(), read, times, config, (done, total) => ctx.progress(done, total));
    } catch (e) {
      if (e instanceof AnalysisError) throw StepError.invalidInput(e.message, e.code);
      throw e;
    }
    ctx.writeArtifact('colors.csv', 'text/csv', toCsv(result));
    ctx.info(`${result.frames} frames, mean colourfulness ${result.mean_colorfulness}`);
    return result;
  },
});
