"""Helpers for tests that run the `tracker` command as a separate process, as a user would."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def tracker_command() -> list[str]:
    """The installed console script next to this interpreter, else `python -m tracker`."""
    script = Path(sys.executable).parent / "tracker"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tracker"]


def tracker_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without any TRACKER_* variable, plus a private data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    env.update(
        TRACKER_DATA_DIR=str(tmp_path / "data"),
        TRACKER_RUN_SCHEDULER="false",
        TRACKER_CLAIMS_DIR=str(REPO_ROOT / "claims"),
    )
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
