"""Serving: the Space's named endpoints (`endpoints.py`) and the page's parts (`ui.py`); under them, one job a
file: checking a call into a job (`jobs.py`, with `cards.py` and `uploads.py`), running it on the GPU
(`gpu_runner.py`), the GPU time it asks for (`gpu_time.py`), result files (`results.py`); prompt enhancement
(`enhance.py`), the command line (`cli.py`), batches (`batch.py`), compiling ahead of time (`ahead.py`) and the
README's tables (`docs.py`)."""
