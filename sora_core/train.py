"""`python -m sora_core.train ...`: the training loop lives in `sora_core.training.train`."""

from .training.train import main

if __name__ == "__main__":
    main()
