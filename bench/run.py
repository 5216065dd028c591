"""Run every benchmark and print its table (copy the results into docs/benchmarks.md)."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import startup


def main() -> None:
    print(
        f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
        f"Python {platform.python_version()}"
    )
    print(f"\n## Start-up and healing ({startup.ROUNDS} rounds)\n")
    print(startup.table(startup.measure()))


if __name__ == "__main__":
    main()
