"""Run the project's commands (``quart``, ``alembic``, ``hypercorn``) as a person would:
in a subprocess, with the settings in the environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def command_env(url: str | None = None, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUARTBLOG_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    if url:
        env["QUARTBLOG_DATABASE_URL"] = url
    env.update({f"QUARTBLOG_{k}": v for k, v in settings.items()})
    return env


def run(args: list[str] | str, *, url: str | None = None, cwd: Path = PROJECT_ROOT, input: str | None = None,
        timeout: float = 180, env: dict[str, str] | None = None, **settings: str) -> subprocess.CompletedProcess:
    """``args`` as a list, or a shell command line (a string, run by bash)."""
    return subprocess.run(
        args if isinstance(args, list) else ["bash", "-c", args],
        cwd=cwd, env=env or command_env(url, **settings), input=input,
        capture_output=True, text=True, timeout=timeout,
    )


def quart(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return run([str(BIN / "quart"), "--app", "quartblog", *args], **kwargs)


def alembic(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return run([str(BIN / "alembic"), *args], **kwargs)
