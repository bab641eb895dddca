"""What benchmarks share: the one line each prints (median, min and max of its samples),
and the CPU time a process has used."""

import os
import statistics
from pathlib import Path


def summary(name: str, samples: list[float], width: int = 34) -> str:
    return (f"{name:<{width}} median {statistics.median(samples):6.3f} s   "
            f"min {min(samples):6.3f} s   max {max(samples):6.3f} s   (n={len(samples)})")


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process so far (0 if it is not there)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
