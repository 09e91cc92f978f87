"""A seccomp-BPF filter for the model sandbox (bwrap --seccomp FD), written out by hand.

The namespaces already hide the network, the files and other processes; this filter is
the second wall (defence in depth) against a kernel bug reachable through a syscall the
model never needs. It refuses, with EPERM, the families a tensor program has no use for:
sockets, ptrace and cross-process memory access, mounts and namespaces, keyrings, BPF,
perf events, io_uring, kernel modules and kexec, userfaultfd (a favourite of kernel
exploits), and kills the process on a foreign architecture or the x32 ABI, where the
syscall numbers below would mean something else.

The program format is `struct sock_filter` (linux/filter.h) over `struct seccomp_data`
(linux/seccomp.h: `nr` at offset 0, `arch` at offset 4). The numbers are x86_64's
(arch/x86/entry/syscalls/syscall_64.tbl); on another machine type no filter is installed
and the namespaces and limits stand alone (`seccomp_program` returns None).
"""

from __future__ import annotations

import functools
import platform
import struct

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000

BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_JGE_K = 0x35
BPF_RET_K = 0x06
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
EPERM = 1

REFUSED_X86_64 = {
    "socket": 41,
    "connect": 42,
    "accept": 43,
    "sendto": 44,
    "recvfrom": 45,
    "sendmsg": 46,
    "recvmsg": 47,
    "bind": 49,
    "listen": 50,
    "socketpair": 53,
    "accept4": 288,
    "ptrace": 101,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "personality": 135,
    "pivot_root": 155,
    "chroot": 161,
    "acct": 163,
    "mount": 165,
    "umount2": 166,
    "swapon": 167,
    "swapoff": 168,
    "reboot": 169,
    "sethostname": 170,
    "setdomainname": 171,
    "init_module": 175,
    "delete_module": 176,
    "kexec_load": 246,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "unshare": 272,
    "perf_event_open": 298,
    "setns": 308,
    "finit_module": 313,
    "kexec_file_load": 320,
    "bpf": 321,
    "userfaultfd": 323,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
}


def _instruction(code: int, jump_true: int, jump_false: int, constant: int) -> bytes:
    return struct.pack("=HBBI", code, jump_true, jump_false, constant)


@functools.cache
def seccomp_program() -> bytes | None:
    """The compiled filter for this machine type, or None where none is defined."""
    if platform.machine() != "x86_64":
        return None
    program = [
        _instruction(BPF_LD_W_ABS, 0, 0, 4),  # A = arch
        _instruction(BPF_JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        _instruction(BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),
        _instruction(BPF_LD_W_ABS, 0, 0, 0),  # A = syscall number
        _instruction(BPF_JGE_K, 0, 1, X32_SYSCALL_BIT),
        _instruction(BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),
    ]
    for number in sorted(REFUSED_X86_64.values()):
        program.append(_instruction(BPF_JEQ_K, 0, 1, number))
        program.append(_instruction(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | EPERM))
    program.append(_instruction(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW))
    return b"".join(program)
