"""Bridges a :class:`Plugin` to the ``step`` interface componentize-py exports.

componentize-py looks for a class named ``Step`` in the app module; :func:`export`
builds it. ``run`` parses the config, calls the plugin and serialises its result; a
:class:`StepError` becomes the WIT ``step-error`` value; any other exception becomes an
``internal`` error naming its type (the traceback goes to the job's log); a
``MemoryError`` is re-raised so the component traps and the host reports the refused
memory growth (``MEMORY_LIMIT_EXCEEDED``), as for a plugin in any other language.
"""

from __future__ import annotations

import json
import traceback
from typing import Any

from .context import Context, LogLevel
from .describe import Descriptor
from .errors import StepError


class Plugin:
    """A framepipe plugin: override :meth:`describe` and :meth:`run`."""

    def describe(self) -> Descriptor:
        """What the plugin is and needs; cheap, no I/O."""
        raise NotImplementedError

    def run(self, ctx: Context, config: dict) -> Any:
        """Runs the step on ``config`` (the parsed JSON object); returns a JSON-able result."""
        raise NotImplementedError


def _wit() -> Any:
    from componentize_py_types import Err  # type: ignore[import-not-found]
    from wit_world.imports import types  # type: ignore[import-not-found]

    return types, Err


def _to_wit_error(err: StepError) -> Any:
    types, Err = _wit()
    kind = types.ErrorKind[err.kind.name]
    return Err(types.StepError(kind=kind, message=err.wire_message()))


def describe_to_wit(d: Descriptor) -> Any:
    """The descriptor as the generated WIT record."""
    types, _ = _wit()

    def port(p: Any) -> Any:
        return types.Port(
            name=p.name,
            media_types=list(p.media_types),
            description=p.description,
            optional=bool(p.optional),
        )

    return types.Descriptor(
        name=d.name,
        version=d.version,
        description=d.description,
        config_schema=d.schema_text(),
        inputs=[port(p) for p in d.inputs],
        outputs=[port(p) for p in d.outputs],
        hosts=list(d.hosts),
        min_memory_mib=int(d.min_memory_mib),
    )


def run_plugin(plugin: Plugin, config_text: str) -> str:
    """Runs ``plugin`` as the host's ``run`` call: JSON in, JSON out, errors mapped."""
    try:
        text = config_text.strip() or "{}"
        try:
            config = json.loads(text)
        except ValueError as exc:
            raise StepError.invalid_input(f"config: {exc}") from None
        ctx = Context()
        result = plugin.run(ctx, config)
        try:
            return json.dumps(result, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise StepError.internal(f"result is not JSON: {exc}") from None
    except StepError as err:
        raise _to_wit_error(err) from None
    except MemoryError:
        raise
    except Exception as exc:
        _log_traceback(exc)
        raise _to_wit_error(
            StepError.internal(f"{type(exc).__name__}: {exc}")
        ) from None


def _log_traceback(exc: BaseException) -> None:
    try:
        from wit_world.imports import host  # type: ignore[import-not-found]

        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        host.log(host.LogLevel(int(LogLevel.ERROR)), text[-4000:])
    except Exception:
        pass


def export(plugin: Plugin) -> type:
    """The ``Step`` class componentize-py exports: ``Step = export(MyPlugin())``."""
    if not isinstance(plugin, Plugin):
        raise TypeError("export() takes a Plugin instance: Step = export(MyPlugin())")

    class Step:
        def describe(self) -> Any:
            return describe_to_wit(plugin.describe())

        def run(self, config: str) -> str:
            return run_plugin(plugin, config)

    Step.__qualname__ = Step.__name__ = "Step"
    return Step
