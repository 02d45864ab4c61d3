"""The engine: a checkpoint loaded into a SoraPipeline, its requests, timelines and the one sampling path.

    presets.py          where checkpoints live and the defaults they run with
    loading.py          local folder or pinned Hub snapshot -> diffusers / transformers components
    requests.py         one frozen request per task (generate, extend, transition, loop, restyle)
    limits.py           what a request may ask for, for every interface
    workflows.py        pure functions: a request -> a checked plan with its timeline laid out
    timeline.py         the sampling window, its known frames, the pixel <-> latent frame rule
    sampling.py         the flow-matching loop around the checkpoint's scheduler (t = 1 is noise)
    pipeline.py         SoraPipeline: text encoding, VAE, sampling a plan
    fast.py             fast mode; precision.py checks its reduced precision against float32 on this machine
    parallel.py         one clip's tokens across processes (diffusers' context parallelism)
    text.py, video.py, colour_transfer.py

It imports nothing from serving, training or the toy world.
"""
