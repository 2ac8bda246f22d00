// What a running step can ask of the host: inputs, outputs, log, progress, cancellation.
// The only module that imports the host interface, so the rest of the SDK (and a plugin's
// analysis code) loads natively under Node for tests.

import * as host from 'framepipe:plugin/host@0.1.0';
import { StepError, fromIoError } from './errors.js';
import { ArtifactWriter, Blob } from './io.js';

/** Severity of a log line (the WIT `log-level`). */
export const LogLevel = Object.freeze({
  TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error',
});

/** The step's view of its run. One is passed to each `run`. */
export class Context {
  /** Names of the inputs given to this run. */
  inputNames() { return host.inputNames(); }

  /** The named input, or `undefined` when it was not given. */
  optionalInput(name) {
    const inner = host.openInput(name);
    return inner === undefined || inner === null ? undefined : new Blob(name, inner);
  }

  /** The named input; an `invalid-input` error when it was not given. */
  openInput(name) {
    const blob = this.optionalInput(name);
    if (blob === undefined) throw StepError.invalidInput(`input \`${name}\` is missing`);
    return blob;
  }

  /** Starts an output artifact: 1-64 characters of `[A-Za-z0-9._-]`, unique per run. */
  createArtifact(name, mediaType) {
    try {
      return new ArtifactWriter(name, host.createArtifact(name, mediaType));
    } catch (e) {
      throw fromIoError(e, name) ?? e;
    }
  }

  /** Writes a whole artifact at once (bytes or a UTF-8 string). */
  writeArtifact(name, mediaType, data) {
    const out = this.createArtifact(name, mediaType);
    out.write(data);
    out.finish();
  }

  /** Writes a line to the job's log (capped per run by the host). */
  log(level, message) { host.log(level, String(message)); }
  debug(message) { this.log(LogLevel.DEBUG, message); }
  info(message) { this.log(LogLevel.INFO, message); }
  warn(message) { this.log(LogLevel.WARN, message); }
  error(message) { this.log(LogLevel.ERROR, message); }

  /** Reports progress: `processed` of `total` units (0 when unknown). */
  progress(processed, total = 0) { host.progress(BigInt(processed), BigInt(total)); }

  /** True once the job has been cancelled. */
  isCancelled() { return host.isCancelled(); }

  /** Throws a `cancelled` StepError once the job has been cancelled. */
  checkCancelled() { if (this.isCancelled()) throw StepError.cancelled(); }
}
