"""What a running step can ask of the host: inputs, outputs, log, progress, cancellation."""

from __future__ import annotations

import enum
from typing import Any

from .errors import StepError, from_io_error
from .io import ArtifactWriter, Blob


def _host() -> Any:
    """The generated host bindings; present only inside the built component."""
    try:
        from wit_world.imports import host  # type: ignore[import-not-found]
    except ImportError as exc:  # pragma: no cover - native use
        raise RuntimeError(
            "framepipe host calls work only inside the built component "
            "(`framepipe-py build`, then `framepipe run-step plugin.wasm`)"
        ) from exc
    return host


class LogLevel(enum.IntEnum):
    """Severity of a log line (the WIT ``log-level``)."""

    TRACE = 0
    DEBUG = 1
    INFO = 2
    WARN = 3
    ERROR = 4


class Context:
    """The step's view of its run. One is passed to each ``Plugin.run``."""

    def __init__(self) -> None:
        self._host = _host()

    def input_names(self) -> list[str]:
        """Names of the inputs given to this run."""
        return list(self._host.input_names())

    def optional_input(self, name: str) -> Blob | None:
        """The named input, or ``None`` when it was not given."""
        inner = self._host.open_input(name)
        return None if inner is None else Blob(name, inner)

    def open_input(self, name: str) -> Blob:
        """The named input; an ``invalid-input`` error when it was not given."""
        blob = self.optional_input(name)
        if blob is None:
            raise StepError.invalid_input(f"input `{name}` is missing")
        return blob

    def create_artifact(self, name: str, media_type: str) -> ArtifactWriter:
        """Starts an output artifact: 1-64 characters of ``[A-Za-z0-9._-]``, unique per run."""
        try:
            inner = self._host.create_artifact(name, media_type)
        except Exception as exc:
            if type(exc).__name__ == "Err":
                raise from_io_error(exc.value, name) from None  # type: ignore[attr-defined]
            raise
        return ArtifactWriter(name, inner)

    def write_artifact(self, name: str, media_type: str, data: bytes) -> None:
        """Writes a whole artifact at once."""
        with self.create_artifact(name, media_type) as out:
            out.write(data)

    def log(self, level: LogLevel, message: str) -> None:
        """Writes a line to the job's log (capped per run by the host)."""
        self._host.log(self._host.LogLevel(int(level)), str(message))

    def debug(self, message: str) -> None:
        """A debug line."""
        self.log(LogLevel.DEBUG, message)

    def info(self, message: str) -> None:
        """An info line."""
        self.log(LogLevel.INFO, message)

    def warn(self, message: str) -> None:
        """A warning line."""
        self.log(LogLevel.WARN, message)

    def error(self, message: str) -> None:
        """An error line (the step may go on)."""
        self.log(LogLevel.ERROR, message)

    def progress(self, processed: int, total: int = 0) -> None:
        """Reports progress: ``processed`` of ``total`` units (0 when unknown)."""
        self._host.progress(int(processed), int(total))

    def is_cancelled(self) -> bool:
        """True once the job has been cancelled."""
        return bool(self._host.is_cancelled())

    def check_cancelled(self) -> None:
        """Raises a ``cancelled`` StepError once the job has been cancelled."""
        if self.is_cancelled():
            raise StepError.cancelled()
