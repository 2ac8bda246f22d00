"""{{name}}: a framepipe plugin. Counts the bytes and lines of its input, read by range."""

from analysis import Counts
from framepipe_plugin import Context, Descriptor, Plugin, Port, StepError, export


class Step(Plugin):
    def describe(self) -> Descriptor:
        return Descriptor(
            name="{{name}}",
            version="0.1.0",
            description="Counts the bytes and lines of its input.",
            config_schema={
                "type": "object",
                "additionalProperties": False,
                "properties": {"chunk_bytes": {"type": "integer", "minimum": 1024, "maximum": 4194304}},
            },
            inputs=[Port("input", ["*/*"], "Any file, read by range.")],
            min_memory_mib=32,
        )

    def run(self, ctx: Context, config: dict):
        chunk_bytes = config.get("chunk_bytes", 1 << 20)
        blob = ctx.open_input("input")
        counts = Counts()
        while True:
            ctx.check_cancelled()
            chunk = blob.read(chunk_bytes)
            if not chunk:
                break
            counts.add(chunk)
            ctx.progress(counts.bytes, blob.size)
        if counts.bytes == 0:
            raise StepError.invalid_input("the input is empty", code="EMPTY_INPUT")
        return {"bytes": counts.bytes, "lines": counts.lines, "mean_byte": counts.sum / counts.bytes}


Step = export(Step())
