"""The listening sockets of `tracker serve`, and of each worker process with `--workers N`.

On Linux each worker listens on a socket of its own, bound with SO_REUSEPORT to the parent's
port: the kernel then hashes each new connection to one of the group's listening sockets, so
connections spread evenly over the workers. With one shared listening socket instead, the
worker whose event loop wakes first accepts every pending connection at once (asyncio accepts
up to the backlog per wake-up), and under a burst of keep-alive connections one worker could
hold nearly all of them while the other idled (issue 14, item 9).
"""

from __future__ import annotations

import logging
import socket
import sys
from typing import Any

logger = logging.getLogger("uvicorn.error")

# uvicorn.config.STARTUP_FAILURE: the supervisor stops instead of restarting the worker
STARTUP_FAILURE = 3


def reuse_port_supported() -> bool:
    """Whether workers get a listening socket each (SO_REUSEPORT, as Linux balances it).

    Elsewhere they share the parent's socket: the BSDs and macOS have SO_REUSEPORT but hand
    every connection to the newest socket of the group instead of spreading them (FreeBSD's is
    SO_REUSEPORT_LB), and Windows has none."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def tcp_socket(host: str, *, reuse_port: bool = False) -> socket.socket:
    """A TCP socket for host (not yet bound) with the options every listening socket of
    `tracker serve` has."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # protocol IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say TCP, and
    # each accepted connection inherits it; without it Nagle's algorithm meets the client's
    # delayed ACK and every keep-alive response after the first waits ~40 ms
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # as uvicorn does: restarting at once must not wait for TIME_WAIT (Linux still refuses to
    # bind where another socket listens). The workers need it too, to bind beside the parent's
    # socket, which holds the port without listening.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        # only sockets that all set it (and belong to the same user) share a port: a socket
        # without it, such as another `tracker serve` checking the port, cannot bind where
        # this group listens
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return sock


def worker_socket(host: str, port: int) -> socket.socket:
    """Bind this worker's own SO_REUSEPORT socket to host:port (uvicorn calls listen() on it
    once the app has started, so until then the kernel gives its connections to the others)."""
    sock = tcp_socket(host, reuse_port=True)
    try:
        sock.bind((host, port))
    except OSError as exc:  # e.g. a process without SO_REUSEPORT listens there now
        sock.close()
        logger.error("worker cannot bind %s port %s: %s", host, port, exc.strerror or exc)
        sys.exit(STARTUP_FAILURE)
    return sock


class WorkerSocket:
    """Stands for the listening socket in the arguments uvicorn's supervisor (Multiprocess)
    sends to each worker it spawns, first or restarted: unpickled in the worker, it is that
    worker's own socket from worker_socket(). uvicorn's restart and health checks are kept."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    def __reduce__(self) -> tuple[Any, tuple[str, int]]:
        return (worker_socket, (self.host, self.port))
