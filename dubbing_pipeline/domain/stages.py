"""The five stages: queue name, asset key, and where the review gates sit."""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    """Queue names of the seed system, in pipeline order."""

    STT = "STT"
    MT = "MT"
    TTS = "TTS"
    MUXING = "MUXING"
    LIP_SYNC = "LIP_SYNC"

    @property
    def asset_name(self) -> str:
        return ASSET_NAMES[self]

    @property
    def job_name(self) -> str:
        """The asset job whose runs are this stage's jobs."""
        return f"{self.asset_name}_job"

    @property
    def needs_review(self) -> bool:
        return self in (Stage.STT, Stage.MT)

    @property
    def pool(self) -> str:
        """The stage's concurrency pool: its run limit, and the switch that pauses it."""
        return f"dubbing/{self.lower()}"

    @classmethod
    def parse(cls, name: str) -> Stage:
        """A queue name ('MT') or an asset name ('translation')."""
        for stage, asset_name in ASSET_NAMES.items():
            if name in (stage.value, asset_name):
                return stage
        raise ValueError(f"unknown stage {name!r}: use one of {[s.value for s in cls]}")


ASSET_NAMES: dict[Stage, str] = {
    Stage.STT: "transcript",
    Stage.MT: "translation",
    Stage.TTS: "speech",
    Stage.MUXING: "muxed_video",
    Stage.LIP_SYNC: "lipsynced_video",
}
