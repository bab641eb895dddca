"""The one line every benchmark prints: median, min and max of its samples."""

import statistics


def summary(name: str, samples: list[float], width: int = 34) -> str:
    return (f"{name:<{width}} median {statistics.median(samples):6.3f} s   "
            f"min {min(samples):6.3f} s   max {max(samples):6.3f} s   (n={len(samples)})")
