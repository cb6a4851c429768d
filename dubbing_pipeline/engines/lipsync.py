"""Lip-sync for premium projects.

No lip-sync weights ship in any package, so the offline default does not move lips: it retimes the
video to the dub track with ffmpeg (setpts) and says so in every report. When the durations already
match to within a frame (our dub track is built to the source's length), it copies the streams.
"""

from __future__ import annotations

from pathlib import Path

import ffmpeg
from dagster import ConfigurableResource

from dubbing_pipeline import media
from dubbing_pipeline.engines.base import LipSyncReport, Progress

ENGINE = "ffmpeg-retime"


class RetimeLipSync(ConfigurableResource):
    """The honest default: retime, do not pretend to lip-sync."""

    video_codec: str = "libx264"
    preset: str = "veryfast"
    crf: int = 20

    def lipsync(self, video: Path, audio: Path, out: Path, progress: Progress) -> LipSyncReport:
        video_info = media.probe(video)
        audio_duration = media.probe(audio).duration
        factor = audio_duration / video_info.duration
        frame = _frame_seconds(video_info.raw)
        progress(0.1)
        source = ffmpeg.input(str(video))
        if abs(audio_duration - video_info.duration) <= frame:
            factor = 1.0
            stream = ffmpeg.output(source["v"], source["a"], source["s?"], str(out), c="copy")
            note = "no lip-sync model installed; durations already match, streams copied"
        else:
            retimed = source["v:0"].filter("setpts", f"{factor:.8f}*PTS")
            stream = ffmpeg.output(
                retimed,
                ffmpeg.input(str(audio))["a:0"],
                source["s?"],
                str(out),
                **{"c:v": self.video_codec, "preset": self.preset, "crf": self.crf},
                **{"c:a": "aac", "c:s": "copy"},
            )
            note = f"no lip-sync model installed; video retimed by {factor:.4f} to the dub track"
        media.run(stream)
        progress(1.0)
        return LipSyncReport(engine=ENGINE, model=None, note=note, retime_factor=round(factor, 6))


def _frame_seconds(raw_probe: dict) -> float:
    video = next(s for s in raw_probe["streams"] if s.get("codec_type") == "video")
    num, _, den = video.get("avg_frame_rate", "25/1").partition("/")
    rate = float(num) / float(den or 1) if float(num or 0) else 25.0
    return 1.0 / rate
