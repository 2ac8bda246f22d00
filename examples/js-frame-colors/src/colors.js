// Colour statistics of a frame: mean colour, colourfulness (Hasler and Suesstrunk's M,
// from the opponent channels rg = R-G and yb = (R+G)/2 - B: 0 for grey, about 100+ for a
// very colourful picture) and the dominant hue (the most common of 12 hue sectors among
// pixels that are not near grey). Pixels are sampled on a grid of at most 160x90.

const HUES = ['red', 'orange', 'yellow', 'chartreuse', 'green', 'spring', 'cyan', 'azure',
  'blue', 'violet', 'magenta', 'rose'];

/** Colour statistics of an RGB picture `{width, height, data}`. */
export function colorStats(pic) {
  const stepX = Math.max(1, Math.floor(pic.width / 160)), stepY = Math.max(1, Math.floor(pic.height / 90));
  let n = 0, sr = 0, sg = 0, sb = 0, srg = 0, syb = 0, srg2 = 0, syb2 = 0, grey = 0;
  const hues = new Array(12).fill(0);
  for (let y = 0; y < pic.height; y += stepY) {
    for (let x = 0; x < pic.width; x += stepX) {
      const p = (y * pic.width + x) * 3;
      const r = pic.data[p], g = pic.data[p + 1], b = pic.data[p + 2];
      sr += r; sg += g; sb += b; n++;
      const rg = r - g, yb = (r + g) / 2 - b;
      srg += rg; syb += yb; srg2 += rg * rg; syb2 += yb * yb;
      const max = Math.max(r, g, b), min = Math.min(r, g, b);
      if (max - min < 24) { grey++; continue; }
      let h;
      if (max === r) h = ((g - b) / (max - min) + 6) % 6;
      else if (max === g) h = (b - r) / (max - min) + 2;
      else h = (r - g) / (max - min) + 4;
      hues[Math.floor(h * 2) % 12]++;
    }
  }
  const mrg = srg / n, myb = syb / n;
  const sdRg = Math.sqrt(Math.max(0, srg2 / n - mrg * mrg)), sdYb = Math.sqrt(Math.max(0, syb2 / n - myb * myb));
  const colorfulness = Math.sqrt(sdRg ** 2 + sdYb ** 2) + 0.3 * Math.sqrt(mrg ** 2 + myb ** 2);
  let best = -1;
  for (let i = 0; i < 12; i++) if (hues[i] > (best < 0 ? 0 : hues[best])) best = i;
  return {
    meanRgb: [sr / n, sg / n, sb / n].map((v) => Math.round(v)),
    colorfulness: Math.round(colorfulness * 100) / 100,
    greyShare: Math.round((grey / n) * 1000) / 1000,
    dominantHue: best < 0 ? null : HUES[best],
  };
}

/** The PNG inputs in frame order: by the number before the extension, unnumbered last. */
export function frameOrder(names) {
  const num = (n) => { const m = /(\d+)\.[A-Za-z0-9]+$/.exec(n); return m ? Number(m[1]) : null; };
  return names.filter((n) => n.toLowerCase().endsWith('.png')).sort((a, b) => {
    const x = num(a), y = num(b);
    if ((x === null) !== (y === null)) return x === null ? 1 : -1;
    return x === y ? (a < b ? -1 : a > b ? 1 : 0) : x - y;
  });
}

/** Frame times by artifact name from the frames step's result (shown, else asked). */
export function frameTimes(doc) {
  const out = new Map();
  for (const f of doc.frames ?? []) {
    const t = f.pts_seconds ?? f.requested_seconds;
    if (f.artifact && t !== undefined && t !== null) out.set(f.artifact, t);
  }
  return out;
}
