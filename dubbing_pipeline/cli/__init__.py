"""Entry points: the ``dubbing`` command, the in-process runner, the sample video."""
