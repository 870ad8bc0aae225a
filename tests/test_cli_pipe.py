"""`grok-tui list | head`: a reader that leaves early is no error (exit 141 like other tools, nothing on stderr)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import tiny_config


def test_list_into_a_closed_pipe_says_nothing(tmp_path: Path) -> None:
    for n in range(1500):  # ~150 KB of table: more than a pipe holds, so the write fails
        tiny_config(tag=f"run{n:04d}").save(tmp_path / "logs" / f"run{n:04d}" / "config.json")
    command = f"{sys.executable} -m grok_tui.cli list --root {tmp_path} | head -1"
    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.stdout.startswith("TAG")
    assert result.stderr == ""
    assert result.returncode == 141
