"""Issue 17's benchmark: anonymizing declared PII fields (records/s per core against the
operators they replaced) and the object store's encryption at rest (encrypted bucket against
plain) and PII detection against Presidio's pattern recognizers, each on the same data in
the same run. Run: ``.venv/bin/python bench/privacy.py``;
the results and the machine are in docs/benchmarks.md.
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import anonymize
import detection
import encryption


def main() -> None:
    cpu = platform.processor() or platform.machine()
    print(f"# privacy benchmark ({cpu}, Python {platform.python_version()})\n")
    print("## Anonymizing 5 declared fields\n")
    print(anonymize.table(anonymize.anonymization()))
    print("\n## Encryption at rest: object store throughput\n")
    print(encryption.table(encryption.encryption()))
    print("\n## PII detection against Presidio (5,000 labelled sentences)\n")
    print(detection.table(detection.detection()))


if __name__ == "__main__":
    main()
