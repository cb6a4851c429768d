"""The dub's mix in ffmpeg's filter graph: the dub track over a background bed, the bed lowered
under dubbed speech by volume automation, the result measured (EBU R128) as it is written.

Nothing is held in Python: ffmpeg streams both inputs, and the automation is a ``sendcmd`` script
(two commands a ducked stretch) whatever the video's length. The gain that brings the mix to its
loudness target is applied where the mix is encoded (``engines.mux``), a constant like
``loudnorm``'s linear mode, with a peak limiter behind it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import ffmpeg

from dubbing_pipeline.domain.background import Span
from dubbing_pipeline.domain.errors import JobProcessingError, validation_error
from dubbing_pipeline.domain.timing import DUB_SAMPLE_RATE
from dubbing_pipeline.infra import media

MIX_RATE = DUB_SAMPLE_RATE
CONTROL_SAMPLES = MIX_RATE // 100  # the automation's step: 10 ms, 0.7 dB of an 18 dB ramp
SPEECH_FLOOR_DB = -50.0  # quieter than this is a pause in the dub (its pauses are silence)
SHORTEST_PAUSE_S = 0.2
DUCK = "volume@duck"
CENTRE = "volume@centre"
SILENT_LUFS = -70.0  # what ebur128 reports for silence (the absolute gate)
# A sampled measurement: 10 s of every 40 s (on the bench's 10 min mix, through the limiter:
# -17.0 LUFS sampled and whole, for a third of the CPU).
SAMPLE_S, SAMPLE_EVERY_S = 10, 40
_SILENCE = re.compile(r"silence_(start|end): (-?[\d.]+)")
_SUMMARY = re.compile(r"^\s*(I|Peak):\s+(-?[\d.]+|-inf)", re.MULTILINE)


@dataclass(frozen=True)
class Bed:
    """What plays under the dub: a stream of a media file, and whether it is ducked."""

    path: Path
    stream: str = "a:0"
    ducked: bool = False


@dataclass(frozen=True)
class Loudness:
    integrated_lufs: float
    peak_dbfs: float  # sample peak

    def gain_to(self, target_lufs: float) -> float:
        """The constant gain that brings this to the target (none for silence)."""
        if self.integrated_lufs <= SILENT_LUFS:
            return 0.0
        return target_lufs - self.integrated_lufs


@dataclass(frozen=True)
class Ducking:
    spans: Sequence[Span]
    duck_db: float
    ramp_s: float
    centre_cancel: bool = False  # stereo beds: also take out the centre (the voice) under the dub


def speech_regions(dub: Path) -> list[Span]:
    """Where the dub track speaks: the complement of its pauses (ffmpeg ``silencedetect``)."""
    frames, rate = media.wav_samples(dub)
    duration = frames / rate
    graph = ffmpeg.input(str(dub)).audio.filter(
        "silencedetect", noise=f"{SPEECH_FLOOR_DB}dB", d=SHORTEST_PAUSE_S
    )
    log = media.run_logged(graph.output("-", f="null"))
    regions, cursor = [], 0.0
    for kind, value in _SILENCE.findall(log):
        at = max(0.0, float(value))
        if kind == "start":
            if at > cursor:
                regions.append(Span(cursor, at))
            cursor = math.inf  # inside a pause until its end
        else:
            cursor = at
    if cursor < duration:
        regions.append(Span(cursor, duration))
    return regions


def automation_script(ducking: Ducking) -> str:
    """The ``sendcmd`` script: at each ramp's start, the volume expression for that ramp (it
    saturates, so it holds until the next command). Linear in dB; the centre cancel fades the
    mid signal out and in along the same ramps."""
    ramp, lines = ducking.ramp_s, []
    depth = -ducking.duck_db / 20
    for span in ducking.spans:
        down, up = span.start - ramp, span.end
        into = f"clip((t-({down:.4f}))/{ramp:.4f},0,1)"
        out_of = f"clip((t-{up:.4f})/{ramp:.4f},0,1)"
        cmds = [f"{DUCK} volume 'pow(10,{depth:.6f}*{into})'"]
        cmds += [f"{CENTRE} volume '1-{into}'"] if ducking.centre_cancel else []
        lines.append(f"{max(0.0, down):.4f} {', '.join(cmds)};")
        cmds = [f"{DUCK} volume 'pow(10,{depth:.6f}*(1-{out_of}))'"]
        cmds += [f"{CENTRE} volume '{out_of}'"] if ducking.centre_cancel else []
        lines.append(f"{up:.4f} {', '.join(cmds)};")
    return "\n".join(lines) + "\n"


def mix(
    dub: Path,
    bed: Bed | None,
    out: Path,
    *,
    ducking: Ducking | None = None,
    script: Path | None = None,
) -> Loudness:
    """Write the mix (32-bit float WAV at 48 kHz, mono or stereo as the bed) and measure it.
    ``script`` is where the automation for ``ducking`` is written (a file ffmpeg reads)."""
    channels = media.audio_stream(bed.path, bed.stream).get("channels", 1) if bed else 1
    layout = "stereo" if channels > 1 else "mono"  # the bed's (a surround bed is folded down)
    fmt = {"sample_fmts": "fltp", "sample_rates": MIX_RATE, "channel_layouts": layout}
    mixed = ffmpeg.input(str(dub)).audio.filter("aformat", **fmt)
    if bed is not None:
        under = ffmpeg.input(str(bed.path))[bed.stream].filter("asetpts", "PTS-STARTPTS")
        under = under.filter("aformat", **fmt)
        if bed.ducked and ducking is not None and ducking.spans:
            assert script is not None, "ducking needs a file for its automation"
            script.write_text(automation_script(ducking))
            under = _ducked(under, script, ducking.centre_cancel and layout == "stereo")
        mixed = ffmpeg.filter(
            [mixed, under.filter("apad")], "amix", inputs=2, duration="first", normalize=0
        )
    measured = mixed.filter("ebur128", framelog="verbose", peak="sample")
    log = media.run_logged(
        ffmpeg.output(measured, str(out), acodec="pcm_f32le", ar=MIX_RATE, rf64="auto")
    )
    return _loudness(log)


def measure(
    path: Path,
    stream: str = "a:0",
    *,
    gain_db: float = 0.0,
    limit_db: float | None = None,
    sampled: bool = False,
) -> Loudness:
    """Integrated loudness and sample peak of a file's audio, through ``levelled``'s gain and
    limiter (what the encoder will get, so the figure is the delivered track's). ``sampled``:
    an estimate from the first ``SAMPLE_S`` of every ``SAMPLE_EVERY_S`` (a quarter of the
    audio, spread over it), for what the limiter takes off a long track."""
    audio = ffmpeg.input(str(path))[stream]
    if sampled:
        audio = audio.filter("aselect", f"lt(mod(t,{SAMPLE_EVERY_S}),{SAMPLE_S})")
    levelled_audio = levelled(audio, gain_db, limit_db)
    graph = levelled_audio.filter("ebur128", framelog="verbose", peak="sample")
    return _loudness(media.run_logged(graph.output("-", f="null")))


def levelled(stream, gain_db: float, limit_db: float | None):
    """A stream through a constant gain, then a lookahead peak limiter at ``limit_db`` dBFS
    (its delay compensated, no auto-level): loudness normalisation, applied where a track is
    encoded and where it is measured, so both see the same."""
    if gain_db:
        stream = stream.filter("volume", f"{gain_db:.2f}dB")
    if limit_db is not None:
        stream = stream.filter("alimiter", limit=10 ** (limit_db / 20), level=False, latency=True)
    return stream


def _ducked(under: ffmpeg.nodes.FilterableStream, script: Path, centre_cancel: bool):
    """The bed through the automation: 10 ms frames so each ramp moves in small steps; with
    the centre cancel, side + (mid faded out under the dub), which is the bed itself between
    lines."""
    under = under.filter("asetnsamples", n=CONTROL_SAMPLES).filter("asendcmd", f=str(script))
    if centre_cancel:
        halves = under.filter_multi_output("asplit", 2)
        side = halves[0].filter("pan", args="stereo|c0=0.5*c0-0.5*c1|c1=0.5*c1-0.5*c0")
        mid = halves[1].filter("pan", args="mono|c0=0.5*c0+0.5*c1")
        mid = mid.filter(CENTRE, volume=1, eval="frame").filter("pan", args="stereo|c0=c0|c1=c0")
        under = ffmpeg.filter([side, mid], "amix", inputs=2, normalize=0)
    return under.filter(DUCK, volume=1, eval="frame")


def _loudness(log: str) -> Loudness:
    """The ebur128 summary at the end of ffmpeg's log."""
    summary = log[log.rfind("Summary:") :]
    values = dict(_SUMMARY.findall(summary))
    if "I" not in values:
        raise validation_error("the mix could not be measured (no EBU R128 summary from ffmpeg)")
    peak = values.get("Peak", "-inf")
    return Loudness(float(values["I"]), -math.inf if peak == "-inf" else float(peak))


def validate_stem(stem: Path, duration: float, tolerance_s: float) -> float:
    """A usable music-and-effects stem: decodable audio to its end, as long as the video
    within ``tolerance_s``. Anything else is a VALIDATION error that says what is wrong."""
    label = f"background stem {stem.name}"
    try:
        info = media.probe(stem)
        if info.audio_streams == 0:
            raise validation_error(f"{stem.name}: no audio track")
        seconds = media.decoded_seconds(stem)
    except JobProcessingError as exc:  # probe's own message names the file; say it is the stem
        raise validation_error(f"background stem: {exc.message}") from exc
    if abs(seconds - duration) > tolerance_s:
        raise validation_error(
            f"{label} is {seconds:.2f} s long but the video is {duration:.2f} s: a stem must "
            f"match the video within {tolerance_s:g} s"
        )
    return seconds
