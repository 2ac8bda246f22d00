// The whole step, apart from the host: frames in order -> decoded -> colour statistics.

import { colorStats, frameOrder } from './colors.js';
import { decode, PngError } from './png.js';

export const SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    max_frames: { type: 'integer', minimum: 1, maximum: 10000, default: 1000 },
  },
};

export class AnalysisError extends Error {
  constructor(message, code) { super(message); this.code = code; }
}

/**
 * `read(name)` returns a frame's bytes; `times` maps names to seconds; `tick(done, total)`
 * reports progress. Returns the result document.
 */
export function analyse(names, read, times, config, tick = () => {}) {
  const maxFrames = config.max_frames ?? 1000;
  const frames = frameOrder(names);
  if (frames.length === 0) {
    throw new AnalysisError(`no PNG frames among the inputs ${JSON.stringify(names)}: give the frames step format = "png"`, 'NO_PNG_FRAMES');
  }
  if (frames.length > maxFrames) throw new AnalysisError(`${frames.length} frames, more than max_frames ${maxFrames}`);
  const perFrame = [];
  frames.forEach((name, i) => {
    let pic;
    try {
      pic = decode(read(name));
    } catch (e) {
      if (e instanceof PngError || e.name === 'InflateError') throw new AnalysisError(`${name}: ${e.message}`);
      throw e;
    }
    perFrame.push({ artifact: name, time_seconds: times.get(name) ?? null, width: pic.width, height: pic.height, ...snake(colorStats(pic)) });
    tick(i + 1, frames.length);
  });
  const mean = perFrame.reduce((s, f) => s + f.colorfulness, 0) / perFrame.length;
  const most = perFrame.reduce((a, b) => (b.colorfulness > a.colorfulness ? b : a));
  const hueCounts = {};
  for (const f of perFrame) if (f.dominant_hue) hueCounts[f.dominant_hue] = (hueCounts[f.dominant_hue] ?? 0) + 1;
  return {
    frames: perFrame.length,
    mean_colorfulness: Math.round(mean * 100) / 100,
    most_colorful: most.artifact,
    hues: hueCounts,
    per_frame: perFrame,
  };
}

function snake(s) {
  return { mean_rgb: s.meanRgb, colorfulness: s.colorfulness, grey_share: s.greyShare, dominant_hue: s.dominantHue };
}

/** The per-frame table as CSV. */
export function toCsv(result) {
  const rows = ['artifact,time_seconds,r,g,b,colorfulness,grey_share,dominant_hue'];
  for (const f of result.per_frame) {
    rows.push([f.artifact, f.time_seconds ?? '', ...f.mean_rgb, f.colorfulness, f.grey_share, f.dominant_hue ?? ''].join(','));
  }
  return rows.join('\n') + '\n';
}
