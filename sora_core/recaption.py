"""`python -m sora_core.recaption FOLDER ...`: re-captioning lives in `sora_core.training.recaption`."""

import sys

from .training.recaption import main

if __name__ == "__main__":
    sys.exit(main())
