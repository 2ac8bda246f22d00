"""What a plugin is and what it needs: the WIT ``descriptor`` as Python dataclasses."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Port:
    """A named input or output of a step."""

    name: str
    media_types: list[str]
    description: str = ""
    optional: bool = False


@dataclass
class Descriptor:
    """What a plugin is and what it needs, so the host can check a pipeline before it runs.

    ``config_schema`` may be a dict (serialised here) or a JSON string; empty means the
    plugin takes no config. ``min_memory_mib`` defaults to 32: CPython's memory after
    start-up is 13 MiB (measured, see docs/plugins.md), so 32 leaves a plugin 19 MiB.
    """

    name: str
    version: str
    description: str
    config_schema: Any = ""
    inputs: list[Port] = field(default_factory=list)
    outputs: list[Port] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    min_memory_mib: int = 32

    def schema_text(self) -> str:
        """The config schema as the JSON text the host expects."""
        if isinstance(self.config_schema, str):
            return self.config_schema
        return json.dumps(self.config_schema, separators=(",", ":"))
