"""MKL's strict CNR mode: asked for when grok_tui is imported, read back from MKL, and recorded.

Without it, on Intel CPUs MKL's matrix products split their sums by the thread count, and runs at one and
two threads differ (tests/test_reproducible.py checks the runs themselves).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

needs_mkl = pytest.mark.skipif(not torch.backends.mkl.is_available(), reason="torch is built without MKL here")

REPORT = ("import json; from grok_tui.experiment.numerics import mkl_is_strict, mkl_mode; "
          "print(json.dumps([mkl_is_strict(), mkl_mode()]))")


def report(code: str, **env: str) -> list[object]:
    environ = {k: v for k, v in os.environ.items() if k != "MKL_CBWR"} | env
    out = subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True, text=True, check=True,
                         timeout=120)
    return json.loads(out.stdout.splitlines()[-1])


@needs_mkl
def test_importing_grok_tui_puts_mkl_in_strict_mode() -> None:
    assert report(REPORT) == [True, "AUTO,STRICT"]


@needs_mkl
def test_a_mode_the_user_set_is_kept() -> None:
    assert report(REPORT, MKL_CBWR="AVX2") == [False, "AVX2"]
    assert report(REPORT, MKL_CBWR="AVX2,STRICT") == [True, "AVX2,STRICT"]


@needs_mkl
def test_a_product_before_the_import_is_reported_not_strict() -> None:
    """MKL reads its mode at its first call: a program that multiplied first keeps the default, and says so."""
    code = ("import torch; torch.randn(8, 8) @ torch.randn(8, 8); import json; from grok_tui.experiment.numerics import *; "
            "from grok_tui.run.sessions import is_deterministic; "
            "print(json.dumps([mkl_is_strict(), mkl_mode(), is_deterministic(torch.device('cpu'))]))")
    strict, mode, deterministic = report(code)
    assert strict is False and deterministic is False
    assert "set after MKL's first call" in str(mode)


def test_this_test_process_runs_strict() -> None:
    """The suite's bitwise comparisons in this process rely on it (grok_tui is imported before any product)."""
    from grok_tui.experiment.numerics import mkl_is_strict

    assert mkl_is_strict() in (True, None)



def test_the_session_record_names_the_wait_policy() -> None:
    from grok_tui.run.sessions import session_record

    assert session_record(0, torch.device("cpu"), 1)["omp_wait_policy"] == os.environ.get("OMP_WAIT_POLICY")


def test_automatic_threads_leave_the_cores_other_processes_keep_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    """--threads 0: the cores on an idle machine, one per free core on a busy one (two spinning OpenMP threads
    beside a busy process ran 2-3x slower than one), a count the user set kept."""
    from grok_tui.run import sessions

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(sessions, "default_threads", lambda: 2)
    monkeypatch.setattr(sessions.os, "cpu_count", lambda: 2)
    for busy, threads in ((0.0, 2), (0.4, 2), (0.6, 1), (1.0, 1), (2.0, 1), (None, 2)):
        monkeypatch.setattr(sessions, "busy_cores", lambda busy=busy: busy)
        assert sessions.automatic_threads() == threads, busy
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    monkeypatch.setattr(sessions, "busy_cores", lambda: 2.0)
    assert sessions.automatic_threads() == 2


def test_busy_cores_sees_a_process_burning_a_core() -> None:
    from grok_tui.run.sessions import busy_cores

    if busy_cores(0.05) is None:
        pytest.skip("no /proc/stat here: the thread count stays torch's default")
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        import time

        time.sleep(0.5)  # the burner is running, not starting
        busy = busy_cores(0.5)
    finally:
        burner.kill()
        burner.wait()
    assert busy is not None and busy >= 0.6, busy
