"""A plugin that misbehaves on request, for the sandbox tests (see ../README.md)."""

from framepipe_plugin import Context, Descriptor, Plugin, Port, StepError, export


class Hostile(Plugin):
    def describe(self) -> Descriptor:
        return Descriptor(
            name="python-hostile",
            version="0.1.0",
            description="Misbehaves on request: loop, alloc, raise, step-error, ok.",
            config_schema={
                "type": "object",
                "required": ["mode"],
                "properties": {"mode": {"enum": ["ok", "loop", "alloc", "raise", "step-error", "read"]}},
            },
            inputs=[Port("input", ["*/*"], "Read by mode `read`.", optional=True)],
        )

    def run(self, ctx: Context, config: dict):
        mode = config["mode"]
        if mode == "loop":
            n = 0
            while True:
                n += 1
        if mode == "alloc":
            hoard = []
            while True:
                hoard.append(bytearray(1 << 20))
        if mode == "raise":
            return {"value": {}["missing"]}
        if mode == "step-error":
            raise StepError.unsupported("this input is not supported", code="NOT_SUPPORTED_HERE")
        if mode == "read":
            blob = ctx.open_input("input")
            blob.seek(-4, 2)
            tail = blob.read(4)
            blob.seek(0)
            head = blob.read(3)
            with ctx.create_artifact("copy.bin", "application/octet-stream") as out:
                out.write(blob.read_at(0, blob.size))
            ctx.progress(1, 1)
            return {"size": blob.size, "media_type": blob.media_type, "head": head.decode(), "tail": tail.decode()}
        return {"ok": True, "inputs": ctx.input_names()}


Step = export(Hostile())
