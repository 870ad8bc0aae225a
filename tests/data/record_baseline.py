"""Record the defaults' logs for tests/data/baseline_before_interventions.json on this machine.

The fixture holds one recording per machine kind (kernel fingerprint, tests/kernel_fingerprint.py), each
made with the code from before the intervention fields (commit c50df6e), so the test checks that the
defaults still give those runs bit for bit wherever a recording exists. To add this machine's:

    git worktree add /tmp/before c50df6e
    PYTHONPATH=/tmp/before:tests python tests/data/record_baseline.py   # appends to the fixture

MKL_CBWR is set as grok_tui sets it today (the code of c50df6e did not), so the recording is what that
code computes under the numerics runs now use.
"""

from __future__ import annotations

import os

os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")

import dataclasses  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import grok_tui  # noqa: E402
from grok_tui.config import Config  # noqa: E402
from grok_tui.environment import cpu_name  # noqa: E402
from grok_tui.runlog import read_log  # noqa: E402
from grok_tui.trainer import train_grokking  # noqa: E402
from kernel_fingerprint import kernel_fingerprint  # noqa: E402

FIXTURE = Path(__file__).parent / "baseline_before_interventions.json"


def weights_sha(model) -> str:  # type: ignore[no-untyped-def]
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def main() -> None:
    print(f"recording with grok_tui from {Path(grok_tui.__file__).parent}", file=sys.stderr)
    fixture = json.loads(FIXTURE.read_text())
    runs = []
    for first in fixture["machines"][0]["runs"]:  # the same configs as the first recording
        engine, config = first["engine"], Config.from_dict(first["config"])
        with tempfile.TemporaryDirectory() as root:
            result = train_grokking(dataclasses.replace(config, threads=1), resume=False, root=Path(root),
                                    engine=engine)
            log = [{k: v for k, v in r.items() if k != "elapsed_s"} for r in read_log(result.paths.log)]
            runs.append({"engine": engine, "config": config.to_dict(), "log": log,
                         "weights_sha256": weights_sha(result.model)})
    fixture["machines"].append({"cpu": cpu_name(), "kernel_fingerprint": kernel_fingerprint(),
                                "mkl_cbwr": os.environ.get("MKL_CBWR"), "runs": runs})
    FIXTURE.write_text(json.dumps(fixture) + "\n")


if __name__ == "__main__":
    main()
