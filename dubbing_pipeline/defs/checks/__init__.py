"""Asset checks on every stage (issue 17): one module per stage, each the thin Dagster side of
pure measuring functions (``domain.text_checks``, ``domain.media_checks``,
``infra.audio_checks``). See ``common`` for why they run inside the stage assets."""

from dubbing_pipeline.defs.checks.common import BLOCKING, results, specs

__all__ = ["BLOCKING", "results", "specs"]
