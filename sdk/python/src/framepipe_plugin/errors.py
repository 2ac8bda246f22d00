"""Expected failures, returned to the host as ``step-error`` values.

Any other exception escaping ``run`` is a bug (``internal``); a ``MemoryError`` is left to
trap, so the host reports the refused memory growth as ``MEMORY_LIMIT_EXCEEDED`` just as
it does for a Rust plugin.
"""

from __future__ import annotations

import enum
import re

_CODE = re.compile(r"^[A-Z][A-Z0-9_]*$")


class ErrorKind(enum.Enum):
    """Why a step failed, in terms the job runner acts on (the WIT ``error-kind``)."""

    INVALID_INPUT = "invalid-input"
    """The input or config is wrong; a retry will not help."""
    UNSUPPORTED = "unsupported"
    """The input is valid but this plugin cannot handle it."""
    UNAVAILABLE = "unavailable"
    """Something the step depends on is unavailable for now; the job may be retried."""
    CANCELLED = "cancelled"
    """The step saw that its job was cancelled and stopped."""
    INTERNAL = "internal"
    """A bug or an unexpected state inside the plugin."""


class StepError(Exception):
    """An expected failure with a message for the user.

    ``code`` (SCREAMING_SNAKE) becomes the job's error code: the message sent to the host
    is ``CODE: message``, the convention every framepipe SDK follows.
    """

    def __init__(self, kind: ErrorKind, message: str, code: str | None = None):
        if not isinstance(kind, ErrorKind):
            raise TypeError(f"kind must be an ErrorKind, not {kind!r}")
        if code is not None and not _CODE.match(code):
            raise ValueError(f"code must be SCREAMING_SNAKE (A-Z, 0-9, _), not {code!r}")
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.code = code

    def wire_message(self) -> str:
        """The message as the host receives it, with the ``CODE: `` prefix when given."""
        return f"{self.code}: {self.message}" if self.code else self.message

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.wire_message()}"

    @classmethod
    def invalid_input(cls, message: str, code: str | None = None) -> "StepError":
        """The input or config is wrong."""
        return cls(ErrorKind.INVALID_INPUT, message, code)

    @classmethod
    def unsupported(cls, message: str, code: str | None = None) -> "StepError":
        """The input is valid but unsupported."""
        return cls(ErrorKind.UNSUPPORTED, message, code)

    @classmethod
    def unavailable(cls, message: str, code: str | None = None) -> "StepError":
        """A dependency is unavailable for now (the job is retried)."""
        return cls(ErrorKind.UNAVAILABLE, message, code)

    @classmethod
    def cancelled(cls) -> "StepError":
        """The job was cancelled."""
        return cls(ErrorKind.CANCELLED, "cancelled")

    @classmethod
    def internal(cls, message: str, code: str | None = None) -> "StepError":
        """A bug in the plugin."""
        return cls(ErrorKind.INTERNAL, message, code)


def from_io_error(err: object, what: str) -> StepError:
    """Maps the host's ``io-error`` variant (``wit_world.imports.host.IoError_*``)."""
    variant = type(err).__name__
    detail = getattr(err, "value", str(err))
    if variant.endswith("OutOfRange"):
        return StepError.invalid_input(f"{what}: read out of range: {detail}")
    if variant.endswith("LimitExceeded"):
        return StepError.invalid_input(f"{what}: limit exceeded: {detail}")
    if variant.endswith("InvalidName"):
        return StepError.internal(f"{what}: invalid artifact name: {detail}")
    return StepError.unavailable(f"{what}: host storage failed: {detail}")
