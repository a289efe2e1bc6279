"""A port for a server a test starts later (when its number must be known first, e.g. in the
PBX's AGI URL). Chosen below the kernel's ephemeral range: a port from `bind(("", 0))` would be
free again once probed, and the next server bound to port 0 (the simulated PBX's AMI) could be
given that very number — a test once failed with "address already in use" that way."""

from __future__ import annotations

import random
import socket
from pathlib import Path

_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def free_port() -> int:
    low = int(_RANGE.read_text().split()[0]) if _RANGE.exists() else 32768
    for _ in range(200):
        port = random.randrange(max(1024, low - 12000), low)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")
