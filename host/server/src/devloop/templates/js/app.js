// {{name}}: a framepipe plugin. Counts the bytes and lines of its input, read by range.

import { definePlugin, port, StepError } from '@framepipe/plugin';
import { Counts } from './src/analysis.js';

export const step = definePlugin({
  describe() {
    return {
      name: '{{name}}',
      version: '0.1.0',
      description: 'Counts the bytes and lines of its input.',
      configSchema: {
        type: 'object',
        additionalProperties: false,
        properties: { chunk_bytes: { type: 'integer', minimum: 1024, maximum: 4194304 } },
      },
      inputs: [port('input', ['*/*'], 'Any file, read by range.')],
      minMemoryMib: 32,
    };
  },
  run(ctx, config) {
    const chunkBytes = config.chunk_bytes ?? 1 << 20;
    const blob = ctx.openInput('input');
    const counts = new Counts();
    for (;;) {
      ctx.checkCancelled();
      const chunk = blob.read(chunkBytes);
      if (chunk.length === 0) break;
      counts.add(chunk);
      ctx.progress(counts.bytes, blob.size);
    }
    if (counts.bytes === 0) throw StepError.invalidInput('the input is empty', 'EMPTY_INPUT');
    return { bytes: counts.bytes, lines: counts.lines, mean_byte: counts.sum / counts.bytes };
  },
});
