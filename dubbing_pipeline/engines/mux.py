"""Muxing with ffmpeg: the video stream is copied bit for bit; dub audio and subtitles are added."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import ffmpeg
from dagster import ConfigurableResource

from dubbing_pipeline.domain import languages
from dubbing_pipeline.engines.base import SubtitleTrack
from dubbing_pipeline.infra import media

MP4_VIDEO_CODECS = frozenset({"h264", "hevc", "av1", "vp9", "mpeg4"})


class FfmpegMuxer(ConfigurableResource):
    """MP4 (mov_text subtitles) when the source codec allows a stream copy into MP4, else MKV."""

    audio_codec: str = "aac"
    audio_bitrate: str = "160k"

    def suffix_for(self, video_codec: str | None) -> str:
        return ".mp4" if video_codec in MP4_VIDEO_CODECS else ".mkv"

    def mux(
        self,
        video: Path,
        audio: Path,
        audio_language: str,
        subtitles: Sequence[SubtitleTrack],
        out: Path,
    ) -> None:
        subtitle_codec = "mov_text" if out.suffix == ".mp4" else "srt"
        options: dict[str, str] = {
            "c:v": "copy",
            "c:a": self.audio_codec,
            "b:a": self.audio_bitrate,
            "c:s": subtitle_codec,
            "metadata:s:a:0": f"language={languages.alpha3(audio_language)}",
            "disposition:a:0": "default",
        }
        for i, track in enumerate(subtitles):
            options[f"metadata:s:s:{i}"] = f"language={languages.alpha3(track.language)}"
            # Same stream by absolute index (video 0, audio 1): ffmpeg-python cannot repeat a flag.
            # MP4 keeps a track's name as its handler_name, Matroska as its title.
            name_tag = "handler_name" if out.suffix == ".mp4" else "title"
            options[f"metadata:s:{2 + i}"] = f"{name_tag}={track.title}"
        if out.suffix == ".mp4":
            options["movflags"] = "+faststart"
        inputs = [
            ffmpeg.input(str(video))["v:0"],
            ffmpeg.input(str(audio))["a:0"],
            *(ffmpeg.input(str(t.path))["s:0"] for t in subtitles),
        ]
        media.run(ffmpeg.output(*inputs, str(out), **options))
