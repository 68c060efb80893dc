"""Which socket of the SIP port's `SO_REUSEPORT` group reads a datagram: the fronts'.

With `[sip] fronts`, the platform's UDP socket and each front's share the SIP port. The
kernel's own choice (a hash over the four addresses) would give the platform an equal
share of the devices, although its loop has the whole platform to run besides. A classic
BPF program attached to the group (`SO_ATTACH_REUSEPORT_CBPF`, Linux 4.5 and newer)
chooses instead: socket `1 + (source address ^ source port) % fronts`, the platform's
socket being the group's first (index 0, it binds before any front). A device keeps its
front for as long as its address does not change.

When a front is gone the group is shorter than the program expects; the index it returns
for that front's devices is then past the end for some of them, and the kernel falls
back to its hash over all the sockets left, the platform's included: the platform takes
up what a missing front leaves until it is back.

The program reads the source address and port at fixed offsets from the network header
(an IPv4 header without options, the only kind devices send; IPv6's fixed 40 bytes, and
a device behind an extension header would be steered by other bytes of its packet: still
the same socket for each of its datagrams of one shape, and never lost).
"""

from __future__ import annotations

import ctypes
import socket
import struct

__all__ = ["front_program", "steer_to_fronts"]

SO_ATTACH_REUSEPORT_CBPF = getattr(socket, "SO_ATTACH_REUSEPORT_CBPF", 51)
_SKF_NET_OFF = -0x100000 & 0xFFFFFFFF
_INSTRUCTION = struct.Struct("=HBBI")  # struct sock_filter: code, jt, jf, k

# Classic BPF opcodes (linux/filter.h).
_LD_W_ABS, _LD_H_ABS, _LD_B_ABS = 0x20, 0x28, 0x30
_TAX = 0x07
_RSH_K, _XOR_X, _MOD_K, _ADD_K = 0x74, 0xAC, 0x94, 0x04
_JEQ_K, _JA = 0x15, 0x05
_RET_A = 0x16


def front_program(fronts: int) -> list[tuple[int, int, int, int]]:
    """The instructions choosing socket 1..`fronts` by the datagram's source.

    IPv4 and IPv6 both (a socket bound to `::` also reads IPv4): the IP version in the
    header's first four bits picks the offsets of the source port and of the source
    address's last four bytes.
    """
    if fronts < 1:
        raise ValueError(f"a program for {fronts} fronts")
    net = _SKF_NET_OFF
    return [
        (_LD_B_ABS, 0, 0, net),  # 0: the version and header length byte
        (_RSH_K, 0, 0, 4),  # 1: the version
        (_JEQ_K, 0, 4, 6),  # 2: IPv6 on to 3, else to 7
        (_LD_H_ABS, 0, 0, net + 40),  # 3: IPv6 source port (after the fixed header)
        (_TAX, 0, 0, 0),  # 4
        (_LD_W_ABS, 0, 0, net + 20),  # 5: the source address's last four bytes
        (_JA, 0, 0, 3),  # 6: to 10
        (_LD_H_ABS, 0, 0, net + 20),  # 7: IPv4 source port (a header without options)
        (_TAX, 0, 0, 0),  # 8
        (_LD_W_ABS, 0, 0, net + 12),  # 9: IPv4 source address
        (_XOR_X, 0, 0, 0),  # 10
        (_MOD_K, 0, 0, fronts),  # 11
        (_ADD_K, 0, 0, 1),  # 12: past the platform's socket, the group's first
        (_RET_A, 0, 0, 0),  # 13
    ]


def steer_to_fronts(sock: socket.socket, fronts: int) -> None:
    """Attach `front_program` to `sock`'s group; raises `OSError` where the kernel cannot."""
    program = front_program(fronts)
    code = b"".join(_INSTRUCTION.pack(*instruction) for instruction in program)
    buffer = ctypes.create_string_buffer(code, len(code))
    # struct sock_fprog: the instruction count, then a pointer to them.
    fprog = struct.pack("@HP", len(program), ctypes.addressof(buffer))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, fprog)
