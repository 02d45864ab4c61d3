"""Training: the architectures (`architectures.py`), data in size buckets (`data.py`), the DiT's latent cache
(`latent_cache.py`), the losses (`losses.py`) and the resumable accelerate loop (`train.py`)."""
