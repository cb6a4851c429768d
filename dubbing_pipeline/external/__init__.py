"""Programs that run outside the Dagster process and speak Dagster Pipes.

Modules here import only the standard library, ``dagster_pipes``, ``ffmpeg-python`` and the
dagster-free parts of ``dubbing_pipeline`` (errors, media), so they run in a lean environment or
container of their own, beside a model whose dependencies would clash with ours.
"""
