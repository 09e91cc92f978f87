"""Running an educator's TorchScript model in a bubblewrap sandbox, gradients included.

TorchScript is code: `torch.from_file`, `torch.save` and `print` all script and run, so an
uploaded model is never loaded into a worker or web process. It runs in a child process
(`zoo/sandbox_child.py`) started through Debian's bubblewrap with:

- a fresh user, PID, network, IPC, UTS and cgroup namespace (`--unshare-all`): no network
  interface but loopback, uid/gid 65534 (nobody) inside, every capability dropped;
- a read-only root holding only /usr, the Python runtime and its site-packages, the one
  child script and the one model archive: no project file, no media, no database, no /etc,
  no /proc, nowhere writable (the root and /dev are remounted read-only);
- a seccomp filter (`zoo.seccomp`) refusing sockets, ptrace, mounts, namespaces,
  keyrings, BPF and kernel modules, as a second wall behind the namespaces;
- CPU-time and address-space limits (setrlimit, inherited through bwrap) and a wall-clock
  deadline on every request, after which the sandbox is killed;
- stdout and stderr of the model sent to /dev/null: results come back over a framed pipe
  as float32 bytes with a JSON header (no pickle), and every shape and value is checked
  here before anything uses it.

`SandboxedNetwork` makes the sandbox look like an `nn.Module` to the rest of the lab
engine. Its forward is a custom autograd function: forward asks the sandbox for the
output, backward asks it for the vector-Jacobian product (the input's gradient for the
given output gradient), so Grad-CAM at the output, Integrated Gradients, occlusion and
FGSM/PGD work unchanged while the weights and the code never leave the sandbox.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import resource
import select
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from django.conf import settings
from django.utils.translation import gettext as _

from zoo.base import ZooError

CHILD_SCRIPT = Path(__file__).resolve().parent / "sandbox_child.py"
HEADER_LIMIT = 1 << 16
# Batches the lab engine sends: occlusion evaluates 9 patches per pass, IG 4 steps.
MAX_BATCH = 64


class SandboxUnavailable(ZooError):
    """This host cannot start the sandbox, so uploaded models are switched off."""


class SandboxRefused(ZooError):
    """The sandboxed model failed or misbehaved; the message is ours, never the model's."""


@dataclass(frozen=True)
class SandboxLimits:
    wall_seconds: float  # per request (load, one forward, one gradient)
    cpu_seconds: int  # per sandbox process; the session is recycled at half of it
    memory_bytes: int  # address space of the sandboxed process

    @classmethod
    def from_settings(cls) -> SandboxLimits:
        return cls(
            wall_seconds=float(settings.ZOO_UPLOAD_TIMEOUT_SECONDS),
            cpu_seconds=int(settings.ZOO_SANDBOX_CPU_SECONDS),
            memory_bytes=int(settings.ZOO_UPLOAD_MEMORY_BYTES),
        )


def _runtime_paths() -> list[str]:
    """The read-only runtime the child needs: the venv and the Python it was made from."""
    paths = {os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)}
    return sorted(path for path in paths if not path.startswith("/usr/"))


def _python() -> str:
    # The venv's own interpreter path, resolved through any symlinked checkout, so the
    # venv's pyvenv.cfg (and with it site-packages) is found inside the sandbox.
    return os.path.join(os.path.realpath(sys.prefix), "bin", "python")


def sandbox_command(
    *, archive: Path | None, seccomp_fd: int | None, probe: str = "import numpy, torch"
) -> list[str]:
    """bwrap's argv: the model child with `archive`, else Python running `probe`."""
    command = [
        "bwrap",
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--uid",
        "65534",
        "--gid",
        "65534",
        "--hostname",
        "sandbox",
        "--ro-bind",
        "/usr",
        "/usr",
        "--symlink",
        "usr/lib",
        "/lib",
        "--symlink",
        "usr/lib64",
        "/lib64",
        "--symlink",
        "usr/bin",
        "/bin",
        "--dev",
        "/dev",
    ]
    for path in _runtime_paths():
        command += ["--ro-bind", path, path]
    command += ["--ro-bind", str(CHILD_SCRIPT), "/sandbox/child.py"]
    if archive is not None:
        command += ["--ro-bind", str(archive), "/sandbox/model.pt"]
    if seccomp_fd is not None:
        command += ["--seccomp", str(seccomp_fd)]
    command += [
        "--remount-ro",
        "/dev",
        "--remount-ro",
        "/",
        "--chdir",
        "/",
        "--clearenv",
        "--setenv",
        "OMP_NUM_THREADS",
        "1",
        _python(),
        "-I",
        "/sandbox/child.py" if archive is not None else "-c",
    ]
    if archive is None:
        command.append(probe)
    return command


def _limits_setter(limits: SandboxLimits):
    def apply() -> None:
        # Runs between fork and exec; bwrap and the model's process inherit the limits.
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def sandbox_spawn(
    *, archive: Path | None, limits: SandboxLimits, stdout, probe: str = "import numpy, torch"
) -> subprocess.Popen:
    """Start the sandbox (seccomp filter passed on a pipe, limits set before exec)."""
    from zoo.seccomp import seccomp_program

    program = seccomp_program()
    read_end = None
    if program is not None:
        read_end, write_end = os.pipe()
        os.write(write_end, program)  # a few hundred bytes: fits the pipe buffer
        os.close(write_end)
    try:
        return subprocess.Popen(
            sandbox_command(archive=archive, seccomp_fd=read_end, probe=probe),
            stdin=subprocess.PIPE,
            stdout=stdout,
            stderr=subprocess.DEVNULL,
            pass_fds=(read_end,) if read_end is not None else (),
            preexec_fn=_limits_setter(limits),
            start_new_session=True,
        )
    finally:
        if read_end is not None:
            os.close(read_end)


def sandbox_problem() -> str | None:
    """Why the sandbox cannot start on this host, or None when it can (checked once per
    memory limit, since the runtime itself must fit into it)."""
    return _sandbox_problem(int(settings.ZOO_UPLOAD_MEMORY_BYTES), shutil.which("bwrap"))


@functools.lru_cache(maxsize=4)
def _sandbox_problem(memory_bytes: int, bwrap: str | None) -> str | None:
    if bwrap is None:
        return _("bubblewrap (bwrap) is not installed on this server")
    limits = SandboxLimits.from_settings()
    try:
        process = sandbox_spawn(archive=None, limits=limits, stdout=subprocess.DEVNULL)
        code = process.wait(timeout=max(60.0, limits.wall_seconds))
    except (OSError, subprocess.TimeoutExpired):
        return _("the sandbox did not start")
    if code != 0:
        return _(
            "the sandbox could not start (user namespaces may be disabled on this host, "
            "or the runtime does not fit the memory limit)"
        )
    return None


def sandbox_required() -> None:
    problem = sandbox_problem()
    if problem is not None:
        raise SandboxUnavailable(
            _(
                "Uploaded models are switched off on this server: %(problem)s. An administrator "
                "can install bubblewrap and enable unprivileged user namespaces."
            )
            % {"problem": problem}
        )


FAILURE_MESSAGES = {
    "memory": "The uploaded model ran out of its memory allowance.",
    "not-a-tensor": "The uploaded model did not return a tensor.",
    "shape": "The uploaded model's output changed shape between two passes.",
    "failed": "The uploaded model stopped with an error (its text is not shown).",
    "load": "The uploaded model could not be loaded as TorchScript in the sandbox.",
}


class SandboxSession:
    """One sandboxed process holding one loaded model; requests are answered in order.

    Any failure (timeout, crash, malformed reply, bad shape or value) kills the process:
    the next request starts a fresh one, so a confused stream is never read again.
    """

    def __init__(self, *, archive: Path, limits: SandboxLimits | None = None):
        self.archive = archive
        self.fixed_limits = limits
        self.process: subprocess.Popen | None = None
        self.ops: tuple[str, ...] = ()
        self.cpu_seconds = 0.0
        self.owner_pid = 0
        self.lock = threading.Lock()

    @property
    def limits(self) -> SandboxLimits:
        # Read on every request unless fixed: an operator's new limit applies at once.
        return self.fixed_limits or SandboxLimits.from_settings()

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        sandbox_required()
        self.process = sandbox_spawn(
            archive=self.archive, limits=self.limits, stdout=subprocess.PIPE
        )
        self.owner_pid = os.getpid()
        header, _payload = self._receive(deadline=time.monotonic() + self._load_seconds())
        if not header.get("ok"):
            self._fail(header)
        ops = header.get("ops")
        if not isinstance(ops, list) or not all(isinstance(op, str) for op in ops):
            self.close()
            raise SandboxRefused(_("The sandbox sent a malformed reply."))
        self.ops = tuple(ops)

    def _load_seconds(self) -> float:
        # Importing torch inside a cold sandbox takes seconds on a busy host; the model's
        # own load time is bounded by the same wall clock on top.
        return self.limits.wall_seconds + 60.0

    def close(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if self.owner_pid == os.getpid():
            # bwrap dies with its caller's signal; --die-with-parent takes the sandbox along.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    stream.close()

    def __enter__(self) -> SandboxSession:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _ensure_started(self) -> None:
        if self.process is not None and self.owner_pid != os.getpid():
            self.process = None  # inherited through fork: the parent's pipe, not ours
        if self.process is not None and self.cpu_seconds > self.limits.cpu_seconds / 2:
            self.close()  # recycle before the CPU limit would kill it mid-request
        if self.process is None:
            self.start()

    # --- requests -------------------------------------------------------------------------

    def forward(self, inputs: np.ndarray, *, expected: tuple[int, ...]) -> np.ndarray:
        """The model's output for float32 `inputs`; refused unless shaped `expected`, finite."""
        inputs = np.ascontiguousarray(inputs, dtype="<f4")
        header = {"op": "forward", "shape": list(inputs.shape)}
        return self._request(header, inputs.tobytes(), expected=expected, what="output")

    def vjp(self, inputs: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        """d(sum(grad_output * model(inputs))) / d(inputs), shaped like `inputs`, finite."""
        inputs = np.ascontiguousarray(inputs, dtype="<f4")
        grad_output = np.ascontiguousarray(grad_output, dtype="<f4")
        header = {
            "op": "vjp",
            "shape": list(inputs.shape),
            "grad_shape": list(grad_output.shape),
        }
        payload = inputs.tobytes() + grad_output.tobytes()
        return self._request(header, payload, expected=inputs.shape, what="gradient")

    def _request(
        self, header: dict, payload: bytes, *, expected: tuple[int, ...], what: str
    ) -> np.ndarray:
        with self.lock:
            self._ensure_started()
            deadline = time.monotonic() + self.limits.wall_seconds
            self._send({**header, "bytes": len(payload)}, payload, deadline=deadline)
            reply, data = self._receive(deadline=deadline, expected=tuple(expected))
            if not reply.get("ok"):
                self._fail(reply)
            values = np.frombuffer(data, dtype="<f4").reshape(expected)
            if not np.isfinite(values).all():
                self.close()
                raise SandboxRefused(
                    _("The uploaded model returned NaN or infinite values (%(what)s).")
                    % {"what": what}
                )
            return values.astype(np.float32)

    def _fail(self, header: dict):
        self.close()
        kind = header.get("kind")
        raise SandboxRefused(_(FAILURE_MESSAGES.get(kind, FAILURE_MESSAGES["failed"])))

    def _timeout(self):
        self.close()
        raise SandboxRefused(
            _("The uploaded model did not finish within %(s)g s and was stopped.")
            % {"s": self.limits.wall_seconds}
        )

    def _send(self, header: dict, payload: bytes, *, deadline: float) -> None:
        encoded = json.dumps(header).encode("ascii")
        data = memoryview(struct.pack(">I", len(encoded)) + encoded + payload)
        descriptor = self.process.stdin.fileno()
        os.set_blocking(descriptor, False)
        while data:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._timeout()
            _r, writable, _x = select.select([], [descriptor], [], remaining)
            if not writable:
                continue
            try:
                written = os.write(descriptor, data[: 1 << 16])
            except BlockingIOError:
                continue
            except (BrokenPipeError, OSError):
                self._ended()
            data = data[written:]

    def _ended(self):
        code = self.process.poll() if self.process is not None else None
        self.close()
        if code is not None and code < 0 and -code in (signal.SIGXCPU, signal.SIGKILL):
            raise SandboxRefused(_("The uploaded model used up its CPU-time allowance."))
        raise SandboxRefused(
            _("The uploaded model's sandbox ended unexpectedly (a crash or a limit).")
        )

    def _read_exact(self, size: int, *, deadline: float) -> bytes:
        descriptor = self.process.stdout.fileno()
        chunks, remaining = [], size
        while remaining:
            left = deadline - time.monotonic()
            if left <= 0:
                self._timeout()
            readable, _w, _x = select.select([descriptor], [], [], left)
            if not readable:
                continue
            chunk = os.read(descriptor, min(remaining, 1 << 20))
            if not chunk:
                self._ended()
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def _receive(
        self, *, deadline: float, expected: tuple[int, ...] | None = None
    ) -> tuple[dict, bytes]:
        """One reply; the payload is read only after its header is checked against `expected`."""
        (length,) = struct.unpack(">I", self._read_exact(4, deadline=deadline))
        if length > HEADER_LIMIT:
            self.close()
            raise SandboxRefused(_("The sandbox sent a malformed reply."))
        try:
            header = json.loads(self._read_exact(length, deadline=deadline))
        except ValueError:
            header = None
        if not isinstance(header, dict):
            self.close()
            raise SandboxRefused(_("The sandbox sent a malformed reply."))
        cpu = header.get("cpu")
        if isinstance(cpu, int | float):
            self.cpu_seconds = float(cpu)
        if not header.get("ok") or expected is None:
            return header, b""
        shape = header.get("shape")
        if not (
            isinstance(shape, list)
            and len(shape) <= 8
            and all(isinstance(side, int) and 0 <= side < 1 << 20 for side in shape)
        ):
            self.close()
            raise SandboxRefused(_("The sandbox sent a malformed reply."))
        if tuple(shape) != tuple(expected):
            self.close()
            raise OutputShapeRefused(shape=tuple(shape), expected=tuple(expected))
        size = 4 * int(np.prod(expected, dtype=np.int64))
        if header.get("bytes") != size:
            self.close()
            raise SandboxRefused(_("The sandbox sent a malformed reply."))
        return header, self._read_exact(size, deadline=deadline)


class OutputShapeRefused(SandboxRefused):
    """The output's shape is not the declared one (only numbers are quoted back)."""

    def __init__(self, *, shape: tuple[int, ...], expected: tuple[int, ...]):
        self.shape, self.expected = shape, expected
        super().__init__(
            _("The uploaded model returned shape %(shape)s where %(expected)s was declared.")
            % {"shape": shape, "expected": expected}
        )


class _SandboxFunction(torch.autograd.Function):
    """Forward and input-gradient both computed in the sandbox (no weights here)."""

    @staticmethod
    def forward(ctx, inputs: torch.Tensor, network: SandboxedNetwork) -> torch.Tensor:
        ctx.network = network
        ctx.save_for_backward(inputs)
        batch = int(inputs.shape[0])
        if not 1 <= batch <= MAX_BATCH:
            raise SandboxRefused(_("Too many images in one pass for an uploaded model."))
        output = network.session.forward(
            inputs.detach().float().cpu().numpy(), expected=(batch, *network.sample_shape)
        )
        return torch.from_numpy(output).to(inputs.device)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (inputs,) = ctx.saved_tensors
        gradient = ctx.network.session.vjp(
            inputs.detach().float().cpu().numpy(), grad_output.detach().float().cpu().numpy()
        )
        return torch.from_numpy(gradient).to(inputs.device, inputs.dtype), None


class SandboxedNetwork(torch.nn.Module):
    """An uploaded model as seen by the lab engine: an nn.Module whose work is done elsewhere.

    `sample_shape` is one image's declared output shape, (classes,) or (classes, rows,
    columns); every reply is checked against it. The one "parameter" is the archive's
    sha256 (so `next(network.parameters()).device` and weight fingerprints work); there are
    no layers here to scramble, hence no deepcopy (the randomisation check is refused).
    """

    def __init__(self, *, session: SandboxSession, sample_shape: tuple[int, ...], sha256: str):
        super().__init__()
        self.session = session
        self.sample_shape = tuple(sample_shape)
        with torch.inference_mode(False):
            digest = torch.tensor(list(bytes.fromhex(sha256)), dtype=torch.uint8)
            self.archive_sha256 = torch.nn.Parameter(digest, requires_grad=False)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return _SandboxFunction.apply(inputs, self)

    def __deepcopy__(self, memo):
        raise ZooError(
            _(
                "The randomisation check scrambles a network's layers one by one; an uploaded "
                "model's layers stay inside its sandbox, so the check is not offered for it."
            )
        )

    def __del__(self):
        session = self.__dict__.get("session")
        if session is not None:
            session.close()
