"""Host-owned inputs, read by range, and outputs, written in chunks, as Python files.

A :class:`Blob` is an ``io.RawIOBase``: ``seek`` moves a position and ``readinto`` asks
the host for exactly the bytes wanted, so a plugin reading a 500 MB video holds only
what it reads. Wrap it in ``io.BufferedReader`` when parsing many small fields.
An :class:`ArtifactWriter` is a writable ``io.RawIOBase`` whose ``close`` finishes the
artifact; an artifact not finished when ``run`` returns is discarded by the host.
"""

from __future__ import annotations

import io
from typing import Any

from .errors import StepError, from_io_error

MAX_READ = 4 << 20
"""The largest read sent to the host in one call; larger reads are split."""


def _err_value(exc: BaseException) -> Any:
    """The payload of componentize-py's ``Err`` exception (or the exception itself)."""
    return getattr(exc, "value", exc)


def _is_wit_err(exc: BaseException) -> bool:
    return type(exc).__name__ == "Err" and hasattr(exc, "value")


class Blob(io.RawIOBase):
    """A read-only input whose bytes stay on the host."""

    def __init__(self, name: str, inner: Any):
        super().__init__()
        self.name = name
        self._inner = inner
        self._size = int(inner.size())
        self._pos = 0

    @property
    def size(self) -> int:
        """Size in bytes."""
        return self._size

    @property
    def media_type(self) -> str:
        """Media type as the host knows it, e.g. ``image/png``."""
        return self._inner.media_type()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self._size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if pos < 0:
            raise ValueError(f"negative seek position {pos}")
        self._pos = pos
        return pos

    def read_at(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes at ``offset`` (fewer only at the end), without moving."""
        if offset >= self._size or length <= 0:
            return b""
        length = min(length, self._size - offset)
        parts = []
        got = 0
        while got < length:
            want = min(length - got, MAX_READ)
            try:
                chunk = self._inner.read(offset + got, want)
            except Exception as exc:  # componentize-py raises Err(io-error)
                if _is_wit_err(exc):
                    raise from_io_error(_err_value(exc), self.name) from None
                raise
            if not chunk:
                break
            parts.append(chunk)
            got += len(chunk)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read_at(self._pos, len(view))
        n = len(data)
        view[:n] = data
        self._pos += n
        return n

    def readall(self) -> bytes:
        data = self.read_at(self._pos, self._size - self._pos)
        self._pos += len(data)
        return data

    def read_all(self, limit: int) -> bytes:
        """The whole input, refused with ``invalid-input`` when larger than ``limit``."""
        if self._size > limit:
            raise StepError.invalid_input(
                f"input `{self.name}` is {self._size} bytes, more than the {limit} "
                "this step reads whole"
            )
        return self.read_at(0, self._size)

    def close(self) -> None:
        if not self.closed and self._inner is not None:
            inner, self._inner = self._inner, None
            inner.__exit__(None, None, None)  # drops the host resource now
        super().close()


class ArtifactWriter(io.RawIOBase):
    """An output being written; ``close`` (or leaving a ``with`` block) finishes it."""

    def __init__(self, name: str, inner: Any):
        super().__init__()
        self.name = name
        self._inner = inner
        self._written = 0
        self._failed = False

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self.closed:
            raise ValueError(f"artifact `{self.name}` is already finished")
        chunk = bytes(data)
        try:
            self._inner.write(chunk)
        except Exception as exc:
            if _is_wit_err(exc):
                self._failed = True
                raise from_io_error(_err_value(exc), self.name) from None
            raise
        self._written += len(chunk)
        return len(chunk)

    @property
    def bytes_written(self) -> int:
        """Bytes written so far."""
        return self._written

    def finish(self) -> None:
        """Marks the artifact complete (``close`` does this)."""
        self.close()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        # An exception inside the `with` block: leave the artifact unfinished (discarded).
        if exc_type is not None:
            self._failed = True
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        inner, self._inner = self._inner, None
        try:
            if not self._failed:
                try:
                    inner.finish()
                except Exception as exc:
                    if _is_wit_err(exc):
                        raise from_io_error(_err_value(exc), self.name) from None
                    raise
        finally:
            inner.__exit__(None, None, None)
            super().close()
