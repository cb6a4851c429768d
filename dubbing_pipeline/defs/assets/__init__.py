"""One module per stage asset, in pipeline order."""

from dubbing_pipeline.defs.assets.lipsynced_video import lipsynced_video
from dubbing_pipeline.defs.assets.muxed_video import muxed_video
from dubbing_pipeline.defs.assets.speech import speech
from dubbing_pipeline.defs.assets.transcript import transcript
from dubbing_pipeline.defs.assets.translation import translation

STAGE_ASSETS = [transcript, translation, speech, muxed_video, lipsynced_video]

__all__ = ["STAGE_ASSETS", "lipsynced_video", "muxed_video", "speech", "transcript", "translation"]
