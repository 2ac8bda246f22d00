// {{name}}'s analysis: byte statistics, fed chunk by chunk. No host calls, so
// `node --test` tests it natively.

export class Counts {
  constructor() { this.bytes = 0; this.lines = 0; this.sum = 0; }

  add(chunk) {
    this.bytes += chunk.length;
    for (const b of chunk) { this.sum += b; if (b === 10) this.lines++; }
  }
}
