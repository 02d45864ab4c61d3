"""`python -m sora_core.evaluate ...`: the evaluation lives in `sora_core.toyworld.evaluate`."""

from .toyworld.evaluate import main

if __name__ == "__main__":
    main()
