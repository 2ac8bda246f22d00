"""{{name}}'s analysis: byte statistics, fed chunk by chunk. No host calls, so
``python3 -m unittest`` tests it natively."""

from dataclasses import dataclass


@dataclass
class Counts:
    bytes: int = 0
    lines: int = 0
    sum: int = 0

    def add(self, chunk: bytes) -> None:
        self.bytes += len(chunk)
        self.lines += chunk.count(b"\n")
        self.sum += sum(chunk)
