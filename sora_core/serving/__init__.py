"""Serving: the Space's endpoints (`endpoints.py`, Gradio), the service that turns their named parameters into
engine requests (`service.py`), the ZeroGPU time budget and size choices (`budget.py`), prompt enhancement
(`enhance.py`) and the command line (`cli.py`)."""
