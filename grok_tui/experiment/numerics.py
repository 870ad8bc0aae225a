"""Whether this process's CPU matrix products are the same at any thread count (MKL's CNR mode).

torch's CPU builds for x86 do their float matrix products in Intel MKL. On Intel CPUs MKL splits a
product's sums by the thread count unless its Conditional Numerical Reproducibility (CNR) mode is
"strict", which makes ?gemm bitwise the same at any thread count. grok_tui/__init__.py asks for it with
MKL_CBWR=AUTO,STRICT before torch's first product; this module says whether MKL took it.

MKL reads MKL_CBWR once, at its first call, so a program that multiplied matrices before importing
grok_tui keeps MKL's default mode. The mode is read back from MKL itself (`mkl_serv_cbwr_get`, exported
by libtorch_cpu; not a public API, so where it is missing the environment variable is taken at its word).
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import torch

STRICT = 0x10000  # MKL_CBWR_STRICT, or-ed into the branch number
ALL_SETTINGS = -1  # MKL_CBWR_ALL: the branch and the flags


def mkl_cnr_setting() -> int | None:
    """MKL's CNR setting as MKL reports it (branch | flags), or None where it cannot be asked."""
    if not torch.backends.mkl.is_available():
        return None
    library = Path(torch.__file__).parent / "lib" / "libtorch_cpu.so"
    try:
        get = ctypes.CDLL(str(library)).mkl_serv_cbwr_get
    except (OSError, AttributeError):
        return None
    get.restype = ctypes.c_int
    return int(get(ctypes.c_int(ALL_SETTINGS)))


def mkl_is_strict() -> bool | None:
    """True where MKL's products are the same at any thread count; None without MKL (no such mode)."""
    if not torch.backends.mkl.is_available():
        return None
    setting = mkl_cnr_setting()
    if setting is None:
        return "STRICT" in os.environ.get("MKL_CBWR", "").upper()
    return bool(setting & STRICT)


def mkl_mode() -> str | None:
    """The MKL_CBWR this process runs under, for the session record: 'AUTO,STRICT', or None without MKL;
    'default (AUTO,STRICT set after MKL's first call)' where the variable asks for strict mode but MKL
    did not take it."""
    if not torch.backends.mkl.is_available():
        return None
    wanted = os.environ.get("MKL_CBWR", "")
    if "STRICT" in wanted.upper() and mkl_is_strict() is False:
        return f"default ({wanted} set after MKL's first call)"
    return wanted or "default"
