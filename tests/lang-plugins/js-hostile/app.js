// A plugin that misbehaves on request, for the sandbox tests (see ../README.md).

import { definePlugin, StepError, port } from '@framepipe/plugin';

export const step = definePlugin({
  describe() {
    return {
      name: 'js-hostile',
      version: '0.1.0',
      description: 'Misbehaves on request: loop, alloc, raise, step-error, ok.',
      configSchema: {
        type: 'object',
        required: ['mode'],
        properties: { mode: { enum: ['ok', 'loop', 'alloc', 'raise', 'step-error', 'read'] } },
      },
      inputs: [port('input', ['*/*'], 'Read by mode `read`.', { optional: true })],
    };
  },
  run(ctx, config) {
    switch (config.mode) {
      case 'loop': { let n = 0; for (;;) n++; }
      case 'alloc': { const hoard = []; for (;;) hoard.push(new Uint8Array(1 << 20).fill(7)); }
      case 'raise': return { value: config.missing.deeper };
      case 'step-error': throw StepError.unsupported('this input is not supported', 'NOT_SUPPORTED_HERE');
      case 'read': {
        const blob = ctx.openInput('input');
        blob.seek(-4, 2);
        const tail = new TextDecoder().decode(blob.read(4));
        blob.seek(0);
        const head = new TextDecoder().decode(blob.read(3));
        const out = ctx.createArtifact('copy.bin', 'application/octet-stream');
        out.write(blob.readAt(0, blob.size));
        out.finish();
        ctx.progress(1, 1);
        return { size: blob.size, media_type: blob.mediaType, head, tail };
      }
      default: return { ok: true, inputs: ctx.inputNames() };
    }
  },
});
