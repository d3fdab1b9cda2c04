"""What the web benchmarks share: a free loopback port and the settings of an app under test.

Each benchmark keeps its own way of serving and loading (a child process with a raw asyncio
load generator for bench_api, a thread with sequential httpx GETs for bench_dashboard).
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracker.config import Settings

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def bench_settings(db_url: str, data_dir: str | Path, **extra: Any) -> Settings:
    """Settings serving an already seeded database: no scheduler, no claim sync, no bundled data."""
    from tracker.config import Settings

    return Settings(
        database_url=db_url,
        data_dir=Path(data_dir),
        run_scheduler=False,
        sync_claims_on_start=False,
        load_bundled_on_start=False,
        **extra,
    )
