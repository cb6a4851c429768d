"""The speech and muxed_video checks: verdicts on what was measured in the dub track and the
delivered file (``infra.audio_checks``), each an ``Outcome``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dubbing_pipeline.domain.checks import (
    CheckThresholds,
    Failing,
    Outcome,
    verdict,
    word_error_rate,
    words,
)

SPEECH_CHECKS = {
    "intelligibility": "The dub track heard back by the STT engine, compared with the approved "
    "text of each segment (word error rate). WARN over wer_warn, ERROR over wer_error.",
    "fits_slot": "Segments over the speed-up cap, cut with a fade. WARN; ERROR when more than "
    "max_cut_share of a clip was cut.",
    "silence": "Silence where speech should be: a placed clip quieter than silence_dbfs. ERROR.",
    "clipping": "Clips with samples at full scale (distortion). WARN.",
}
MUXED_CHECKS = {
    "streams": "One video stream; the dub as the default audio track tagged with the target "
    "language, the original (if kept) after it, not default, tagged with the source "
    "language; subtitles in both languages. ERROR.",
    "video_unchanged": "The video stream's packets are the source's, bit for bit. ERROR.",
    "duration": "The delivered video lasts as long as the source. ERROR.",
    "loudness": "The dub track's integrated loudness is the target's. WARN.",
}


@dataclass(frozen=True)
class Fit:
    segment_id: int
    fitted_samples: int
    overflow_samples: int


def intelligibility_outcome(
    expected: Mapping[int, str], heard: Mapping[int, str], limits: CheckThresholds
) -> Outcome:
    warn: list[Failing] = []
    error: list[Failing] = []
    rates: list[float] = []
    for segment_id, text in expected.items():
        if len(words(text)) < limits.min_wer_words:
            continue
        rate = word_error_rate(text, heard.get(segment_id, ""))
        rates.append(rate)
        note = f"(heard {heard.get(segment_id, '')[:60]!r})"
        if rate > limits.wer_error:
            error.append(Failing(segment_id, rate, limits.wer_error, note))
        elif rate > limits.wer_warn:
            warn.append(Failing(segment_id, rate, limits.wer_warn, note))
    mean = sum(rates) / len(rates) if rates else 0.0
    return verdict(
        "intelligibility",
        warn,
        error=error,
        summary=f"{len(warn) + len(error)} segment(s) not heard as written",
        figures={"mean_wer": round(mean, 3), "judged": len(rates)},
    )


def fit_outcome(fits: Sequence[Fit], sample_rate: int, limits: CheckThresholds) -> Outcome:
    warn: list[Failing] = []
    error: list[Failing] = []
    for fit in fits:
        if fit.overflow_samples <= 0:
            continue
        share = fit.overflow_samples / fit.fitted_samples if fit.fitted_samples else 1.0
        item = Failing(fit.segment_id, share, limits.max_cut_share, "of the clip cut")
        (error if share > limits.max_cut_share else warn).append(item)
    cut = sum(f.overflow_samples for f in fits) / sample_rate
    return verdict(
        "fits_slot",
        warn,
        error=error,
        summary=f"{len(warn) + len(error)} segment(s) over the speed-up cap ({cut:.2f} s cut)",
        figures={"cut_seconds": round(cut, 3)},
    )


def silence_outcome(rms_dbfs: Mapping[int, float], limits: CheckThresholds) -> Outcome:
    silent = [
        Failing(segment_id, rms, limits.silence_dbfs, "dBFS RMS")
        for segment_id, rms in rms_dbfs.items()
        if rms < limits.silence_dbfs
    ]
    return verdict(
        "silence",
        [],
        error=silent,
        summary=f"{len(silent)} segment(s) silent where speech should be",
        figures={"quietest_dbfs": min(rms_dbfs.values(), default=0.0)},
    )


def clipping_outcome(clipped: Mapping[int, float], limits: CheckThresholds) -> Outcome:
    failing = [
        Failing(segment_id, share, limits.clipped_share, "of samples at full scale")
        for segment_id, share in clipped.items()
        if share > limits.clipped_share
    ]
    return verdict(
        "clipping",
        failing,
        summary=f"{len(failing)} clip(s) clipped",
        figures={"worst_share": round(max(clipped.values(), default=0.0), 5)},
    )


# -- muxed_video ----------------------------------------------------------------------------

Tracks = Sequence[tuple[str | None, bool]]


def streams_outcome(
    videos: int,
    audio: Tracks,
    subtitles: Tracks,
    *,
    target: str,
    source: str,
    original: bool,
) -> Outcome:
    """``target`` and ``source`` as the container tags them (ISO 639-2: 'spa', 'eng')."""
    wanted_audio = [(target, True), *([(source, False)] if original else [])]
    wanted_subtitles = sorted([target, source])
    failing = []
    if videos != 1:
        failing.append(Failing("video", videos, 1, "video stream(s)"))
    if list(audio) != wanted_audio:
        failing.append(Failing("audio", _tracks(audio), _tracks(wanted_audio)))
    if sorted(lang or "und" for lang, _ in subtitles) != wanted_subtitles:
        failing.append(Failing("subtitles", _tracks(subtitles), " ".join(wanted_subtitles)))
    return verdict(
        "streams",
        [],
        error=failing,
        summary="the delivered streams are not the ones expected",
        figures={"audio": _tracks(audio), "subtitles": _tracks(subtitles), "videos": videos},
    )


def _tracks(tracks: Tracks) -> str:
    return " ".join(f"{lang or 'und'}{'*' if default else ''}" for lang, default in tracks)


def video_outcome(delivered_md5: str, source_md5: str) -> Outcome:
    same = delivered_md5 == source_md5
    return verdict(
        "video_unchanged",
        [],
        error=[] if same else [Failing("video", delivered_md5[-12:], source_md5[-12:], "md5")],
        summary="the video stream differs from the source's",
        figures={"video_md5": delivered_md5},
    )


def duration_outcome(delivered_s: float, source_s: float, limits: CheckThresholds) -> Outcome:
    off = abs(delivered_s - source_s)
    return verdict(
        "duration",
        [],
        error=[Failing("file", off, limits.duration_tolerance_s, "s off")]
        if off > limits.duration_tolerance_s
        else [],
        summary=f"{delivered_s:.2f} s delivered for a {source_s:.2f} s source",
        figures={"delivered_s": round(delivered_s, 3), "source_s": round(source_s, 3)},
    )


def loudness_outcome(
    measured_lufs: float, target_lufs: float | None, limits: CheckThresholds
) -> Outcome:
    figures: dict[str, float | int | str | bool] = {"integrated_lufs": round(measured_lufs, 2)}
    if target_lufs is None:
        return Outcome("loudness", True, "WARN", "no loudness target: not judged", [], figures)
    off = abs(measured_lufs - target_lufs)
    return verdict(
        "loudness",
        [Failing("dub", measured_lufs, target_lufs, "LUFS")]
        if off > limits.loudness_tolerance_lu
        else [],
        summary=f"the dub is {measured_lufs:.1f} LUFS, the target {target_lufs:.1f}",
        figures=figures | {"target_lufs": target_lufs},
    )


def heard_by_piece(
    pieces: Sequence[tuple[str, float, float]],
    heard: Sequence[tuple[float, float, str]],
    gap_s: float,
) -> dict[str, str]:
    """The words heard in each piece of a back-transcription input: each heard (start, end,
    text), a word or a segment, goes to the piece its middle falls in, gaps split halfway."""
    texts: dict[str, list[str]] = {key: [] for key, _, _ in pieces}
    spans = [(key, start - gap_s / 2, end + gap_s / 2) for key, start, end in pieces if end > start]
    for start, end, text in heard:
        middle = (start + end) / 2
        for key, lo, hi in spans:
            if lo <= middle < hi:
                texts[key].append(text.strip())
                break
    return {key: " ".join(t for t in found if t) for key, found in texts.items()}
