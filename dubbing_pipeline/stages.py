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
    def needs_review(self) -> bool:
        return self in (Stage.STT, Stage.MT)

    @classmethod
    def from_asset(cls, asset_name: str) -> Stage:
        return next(stage for stage, name in ASSET_NAMES.items() if name == asset_name)


ASSET_NAMES: dict[Stage, str] = {
    Stage.STT: "transcript",
    Stage.MT: "translation",
    Stage.TTS: "speech",
    Stage.MUXING: "muxed_video",
    Stage.LIP_SYNC: "lipsynced_video",
}
