"""Start-up cost: `python -m search --help` wall time, and what `import search` loads.

.venv/bin/python benchmarks/startup.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

HEAVY = ("torch", "tensorflow", "keras", "ray", "mlflow", "optuna", "sklearn", "pandas")


def main() -> None:
    runs = []
    for _ in range(10):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "search", "--help"], check=True, stdout=subprocess.DEVNULL
        )
        runs.append(time.perf_counter() - start)
    print(
        f"python -m search --help: median {statistics.median(runs):.3f} s, "
        f"max {max(runs):.3f} s over {len(runs)} runs"
    )
    code = (
        f"import sys, search, spaces, objectives; print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    print(f"import search, spaces, objectives loads of {', '.join(HEAVY)}: {loaded}")


if __name__ == "__main__":
    main()
