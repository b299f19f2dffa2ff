"""`--scheduler ADDRESS`: checked before any work, and named as such when it cannot be reached.

A run on a Dask scheduler extracts every feature first and only then connects; without this
check an unreachable scheduler would show up minutes later as an `OSError` read like a disk
problem. A TCP address (`tcp://host:port`, `tls://host:port` or `host:port`) is checked with a
plain socket connect, which imports nothing; other transports are checked when the client
connects, with the same message.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from evalsuite.errors import ConfigError, SchedulerError

CONNECT_TIMEOUT_S = 10.0
"""How long the check and the client wait for the scheduler before giving up."""
_TCP = ("tcp", "tls")


def scheduler_endpoint(address: str) -> tuple[str, int] | None:
    """(host, port) of a TCP scheduler address; None for another transport (e.g. `inproc://`).

    Raises:
        ConfigError: the address names no host, no port or an invalid one (exit 2, naming it).
    """
    scheme, _, rest = address.rpartition("://")
    if scheme and scheme not in _TCP:
        return None
    try:
        parts = urlsplit(f"tcp://{rest}")
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or port is None or port == 0:
        raise ConfigError(
            f"--scheduler {address!r} is not a scheduler address; give host:port or "
            "tcp://host:port, as printed by `dask scheduler`"
        )
    return host, port


def check_scheduler(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Refuse a scheduler that cannot be reached, before any work.

    Raises:
        ConfigError: the address is invalid.
        SchedulerError: nothing answers at it within `timeout`.
    """
    endpoint = scheduler_endpoint(address)
    if endpoint is None:
        return
    try:
        with socket.create_connection(endpoint, timeout=timeout):
            pass
    except OSError as error:
        raise unreachable(address, error) from error


def unreachable(address: str, error: BaseException) -> SchedulerError:
    """The error of a scheduler that does not answer at `address`."""
    reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return SchedulerError(
        f"cannot reach the Dask scheduler at {address} ({reason}); start it (`dask scheduler`) "
        "or correct --scheduler, or drop --scheduler to run on a local cluster"
    )
