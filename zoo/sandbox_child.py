"""The process that runs an uploaded TorchScript model, inside the bubblewrap sandbox.

This file is the only project file the sandbox can see (bound read-only at
/sandbox/child.py), so it imports nothing from the project or Django: only the standard
library, numpy and torch from the read-only runtime. `zoo.sandbox` starts it and is
the only side that decides anything; this side reports facts (op names, shapes, bytes,
CPU seconds) and error *categories*, never an exception's text, because the text of an
error raised by hostile code can carry whatever that code read.

Protocol, both ways: a frame is a 4-byte big-endian header length, an ASCII JSON header,
then `header["bytes"]` bytes of little-endian float32 payload. No pickles either way.

    startup  -> {"ok": true, "ops": [...]}             the model loaded; its graph's op kinds
    forward  <- {"op": "forward", "shape": [...]}  + input
             -> {"ok": true, "shape": [...]}        + output
    vjp      <- {"op": "vjp", "shape": [...], "grad_shape": [...]} + input + grad of output
             -> {"ok": true, "shape": [...]}        + grad of input
    failure  -> {"ok": false, "kind": "memory" | "not-a-tensor" | "failed" | "load"}
"""

import json
import os
import resource
import struct
import sys

MODEL_PATH = "/sandbox/model.pt"
HEADER_LIMIT = 1 << 16


def _frame_write(channel: int, header: dict, payload: bytes = b"") -> None:
    header = {**header, "bytes": len(payload)}
    header["cpu"] = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
    encoded = json.dumps(header).encode("ascii")
    data = struct.pack(">I", len(encoded)) + encoded + payload
    while data:
        written = os.write(channel, data)
        data = data[written:]


def _read_exact(size: int) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = os.read(0, min(remaining, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _frame_read() -> tuple[dict, bytes]:
    (length,) = struct.unpack(">I", _read_exact(4))
    if length > HEADER_LIMIT:
        raise EOFError
    header = json.loads(_read_exact(length))
    return header, _read_exact(int(header.get("bytes", 0)))


def _op_kinds(model) -> list[str]:
    """Every node kind in every method of every submodule, nested blocks included."""
    kinds: set[str] = set()

    def visit(block) -> None:
        for node in block.nodes():
            kinds.add(node.kind())
            for inner in node.blocks():
                visit(inner)

    for _, module in model.named_modules():
        for name in module._c._method_names():
            method = module._c._get_method(name)
            visit(getattr(method, "inlined_graph", method.graph))
    return sorted(kinds)


def _failure_kind(error: BaseException) -> str:
    if isinstance(error, MemoryError):
        return "memory"
    text = str(error).lower()
    if "allocate" in text or "out of memory" in text:
        return "memory"
    return "failed"


def main() -> int:
    # The protocol keeps the original stdout; anything the model prints goes nowhere.
    channel = os.dup(1)
    null = os.open("/dev/null", os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)

    import numpy as np
    import torch

    torch.set_num_threads(1)

    def tensor_of(payload: bytes, shape) -> torch.Tensor:
        array = np.frombuffer(payload, dtype="<f4").reshape([int(side) for side in shape])
        return torch.from_numpy(array.copy())

    def as_output(value) -> torch.Tensor:
        if not isinstance(value, torch.Tensor):
            raise TypeError("not-a-tensor")
        return value

    try:
        model = torch.jit.load(MODEL_PATH, map_location="cpu").eval()
        ops = _op_kinds(model)
    except BaseException:  # any failure to load is one category
        _frame_write(channel, {"ok": False, "kind": "load"})
        return 0
    _frame_write(channel, {"ok": True, "ops": ops})
    while True:
        try:
            header, payload = _frame_read()
        except (EOFError, ValueError, struct.error):
            return 0
        try:
            if header.get("op") == "forward":
                inputs = tensor_of(payload, header["shape"])
                with torch.no_grad():
                    output = as_output(model(inputs))
                result = output.detach().float().contiguous()
            elif header.get("op") == "vjp":
                shape, grad_shape = header["shape"], header["grad_shape"]
                split = 4 * int(np.prod(shape))
                inputs = tensor_of(payload[:split], shape).requires_grad_(True)
                grad_output = tensor_of(payload[split:], grad_shape)
                with torch.enable_grad():
                    output = as_output(model(inputs)).float()
                    if tuple(output.shape) != tuple(grad_output.shape):
                        raise TypeError("shape")
                    (gradient,) = torch.autograd.grad(
                        output, inputs, grad_output, allow_unused=True
                    )
                if gradient is None:  # the output does not depend on the input
                    gradient = torch.zeros_like(inputs)
                result = gradient.detach().float().contiguous()
            else:
                return 0
        except TypeError as error:
            kind = str(error) if str(error) in ("not-a-tensor", "shape") else "failed"
            _frame_write(channel, {"ok": False, "kind": kind})
            continue
        except BaseException as error:  # a category, never the text
            _frame_write(channel, {"ok": False, "kind": _failure_kind(error)})
            continue
        _frame_write(
            channel,
            {"ok": True, "shape": list(result.shape)},
            result.numpy().astype("<f4", copy=False).tobytes(),
        )


if __name__ == "__main__":
    sys.exit(main())
