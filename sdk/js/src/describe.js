// What a plugin is and what it needs: the WIT `descriptor`, with defaults filled in.

/**
 * A port (input or output): `port('frame-0.png', ['image/png'], 'a frame', {optional})`.
 */
export function port(name, mediaTypes, description = '', { optional = false } = {}) {
  return { name, mediaTypes: [...mediaTypes], description, optional };
}

/**
 * The descriptor record the host reads. `configSchema` may be an object (serialised
 * here) or a JSON string. `minMemoryMib` defaults to 32: SpiderMonkey's memory after
 * start-up is 9 MiB (measured, see docs/plugins.md), so 32 leaves a plugin 23 MiB.
 */
export function descriptor(d) {
  for (const key of ['name', 'version', 'description']) {
    if (typeof d[key] !== 'string' || d[key] === '') {
      throw new TypeError(`describe(): \`${key}\` must be a non-empty string`);
    }
  }
  const schema = d.configSchema ?? '';
  return {
    name: d.name,
    version: d.version,
    description: d.description,
    configSchema: typeof schema === 'string' ? schema : JSON.stringify(schema),
    inputs: (d.inputs ?? []).map(normalisePort),
    outputs: (d.outputs ?? []).map(normalisePort),
    hosts: [...(d.hosts ?? [])],
    minMemoryMib: d.minMemoryMib ?? 32,
  };
}

function normalisePort(p) {
  return {
    name: p.name,
    mediaTypes: [...(p.mediaTypes ?? [])],
    description: p.description ?? '',
    optional: Boolean(p.optional),
  };
}
