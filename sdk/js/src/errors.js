// Expected failures, returned to the host as `step-error` values.
//
// ComponentizeJS turns an exception thrown from an export returning `result<_, E>` into
// `err(E)`, taking E from the exception's `payload`; a StepError carries the WIT record
// there. Any other exception becomes an `internal` error naming it (see glue.js).

const CODE = /^[A-Z][A-Z0-9_]*$/;

/** Why a step failed, in terms the job runner acts on (the WIT `error-kind`). */
export const ErrorKind = Object.freeze({
  INVALID_INPUT: 'invalid-input',
  UNSUPPORTED: 'unsupported',
  UNAVAILABLE: 'unavailable',
  CANCELLED: 'cancelled',
  INTERNAL: 'internal',
});

const KINDS = new Set(Object.values(ErrorKind));

/**
 * An expected failure with a message for the user. `code` (SCREAMING_SNAKE) becomes the
 * job's error code: the host receives `CODE: message`.
 */
export class StepError extends Error {
  constructor(kind, message, code) {
    if (!KINDS.has(kind)) throw new TypeError(`unknown error kind ${JSON.stringify(kind)}`);
    if (code !== undefined && code !== null && !CODE.test(code)) {
      throw new TypeError(`code must be SCREAMING_SNAKE (A-Z, 0-9, _), not ${JSON.stringify(code)}`);
    }
    // ComponentizeJS reads the WIT record's fields (`kind`, `message`) off the thrown
    // object, so `message` is the message as the host receives it: `CODE: detail`.
    super(code ? `${code}: ${message}` : message);
    this.name = 'StepError';
    this.kind = kind;
    this.code = code ?? null;
    this.detail = message;
  }

  /** The message as the host receives it, with the `CODE: ` prefix when given. */
  get wireMessage() {
    return this.message;
  }

  /** The WIT `step-error` record. */
  get payload() {
    return { kind: this.kind, message: this.wireMessage };
  }

  static invalidInput(message, code) { return new StepError(ErrorKind.INVALID_INPUT, message, code); }
  static unsupported(message, code) { return new StepError(ErrorKind.UNSUPPORTED, message, code); }
  static unavailable(message, code) { return new StepError(ErrorKind.UNAVAILABLE, message, code); }
  static cancelled() { return new StepError(ErrorKind.CANCELLED, 'cancelled'); }
  static internal(message, code) { return new StepError(ErrorKind.INTERNAL, message, code); }
}

/** Maps the host's `io-error` variant (`{tag, val}`, thrown with it as `payload`). */
export function fromIoError(e, what) {
  const v = e && e.payload !== undefined ? e.payload : e;
  const tag = v && v.tag;
  const detail = v && v.val !== undefined ? v.val : String(e);
  switch (tag) {
    case 'out-of-range': return StepError.invalidInput(`${what}: read out of range: ${detail}`);
    case 'limit-exceeded': return StepError.invalidInput(`${what}: limit exceeded: ${detail}`);
    case 'invalid-name': return StepError.internal(`${what}: invalid artifact name: ${detail}`);
    case 'failed': return StepError.unavailable(`${what}: host storage failed: ${detail}`);
    default: return null;
  }
}
