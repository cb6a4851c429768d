"""Media for the background tests, made at test time, and measurements on decoded audio.

A source video is speech over a music bed, both known: the test keeps the speech and the bed as
separate files, so the level of each in a delivered dub track can be measured by least squares
(the track is, to the codec's noise, a weighted sum of the dub, the voice and the bed)."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import ffmpeg
import numpy as np

from dubbing_pipeline.engines.tts import EspeakTTS
from dubbing_pipeline.infra import media

RATE = 48_000
HOP = RATE // 100  # 10 ms
SENTENCES = (
    "Hello and welcome to our small video about the weather.",
    "Today the sky is blue and the sun is shining.",
    "Tomorrow it will rain in the city, so take an umbrella.",
    "Thank you very much for watching.",
)


@dataclass(frozen=True)
class Source:
    video: Path
    voice: Path  # mono, 48 kHz: the speech as it is in the video (centred)
    bed: Path  # stereo, 48 kHz: the music bed as it is in the video
    duration: float


def speech_over_music(folder: Path, gap_s: float = 3.0) -> Source:
    """English espeak-ng sentences with ``gap_s`` pauses over a stereo bed of tones and pink
    noise about 10 dB below the voice; H.264 + AAC (48 kHz stereo) in MP4."""
    folder.mkdir(parents=True, exist_ok=True)
    tts = EspeakTTS(words_per_minute=150)
    with tempfile.TemporaryDirectory() as tmp:
        clips = [Path(tmp) / f"{i}.wav" for i in range(len(SENTENCES))]
        for text, clip in zip(SENTENCES, clips, strict=True):
            tts.synthesize(text, "en", clip)
        lead = ffmpeg.input("anullsrc=r=48000:cl=mono", f="lavfi", t=1.0)
        parts = [lead] + [
            ffmpeg.input(str(c)).audio.filter("aresample", RATE).filter("apad", pad_dur=gap_s)
            for c in clips
        ]
        voice = folder / "voice.wav"
        media.run(
            ffmpeg.concat(*parts, v=0, a=1).output(str(voice), ac=1, ar=RATE, acodec="pcm_f32le")
        )
    duration = media.probe(voice).duration
    tones = "0.03*sin(2*PI*110*t)+0.02*sin(2*PI*330*t)|0.03*sin(2*PI*165*t)+0.02*sin(2*PI*440*t)"
    music = ffmpeg.input(f"aevalsrc={tones}:s={RATE}:d={duration:.3f}", f="lavfi")
    noise = ffmpeg.input(
        f"anoisesrc=color=pink:amplitude=0.015:r={RATE}:d={duration:.3f}:seed=7", f="lavfi"
    ).filter("pan", args="stereo|c0=c0|c1=-0.6*c0")
    bed = folder / "bed.wav"
    media.run(
        ffmpeg.filter([music, noise], "amix", inputs=2, normalize=0).output(
            str(bed), ac=2, ar=RATE, acodec="pcm_f32le"
        )
    )
    centred = ffmpeg.input(str(voice)).filter("pan", args="stereo|c0=c0|c1=c0")
    audio = ffmpeg.filter([centred, ffmpeg.input(str(bed))], "amix", inputs=2, normalize=0)
    picture = ffmpeg.input("testsrc2=size=320x180:rate=25", f="lavfi", t=f"{duration:.3f}")
    video = folder / "speech_over_music.mp4"
    media.run(
        ffmpeg.output(
            picture,
            audio,
            str(video),
            vcodec="libx264",
            preset="veryfast",
            pix_fmt="yuv420p",
            acodec="aac",
            ar=RATE,
            ac=2,
            t=f"{duration:.3f}",
            **{"b:a": "256k"},
        )
    )
    return Source(video, voice, bed, duration)


def tone(
    out: Path, seconds: float, frequency: float = 220.0, level: float = 0.1, channels: int = 2
) -> Path:
    """A tone of ``seconds``: a stand-in music-and-effects stem."""
    source = f"aevalsrc={level}*sin(2*PI*{frequency}*t):s={RATE}:d={seconds:.3f}"
    media.run(ffmpeg.input(source, f="lavfi").output(str(out), ac=channels, ar=RATE))
    return out


def decoded(path: Path, stream: str = "a:0") -> np.ndarray:
    """A file's audio stream as float64 mono at 48 kHz, stereo folded as (L + R) / 2."""
    channels = media.audio_stream(path, stream).get("channels", 1)
    args = ["ffmpeg", "-v", "error", "-i", str(path), "-map", f"0:{stream}"]
    if channels > 1:
        args += ["-af", "pan=mono|c0=0.5*c0+0.5*c1"]
    args += ["-ac", "1", "-ar", str(RATE), "-f", "f32le", "-"]
    out = subprocess.run(args, capture_output=True, check=True).stdout
    return np.frombuffer(out, dtype="<f4").astype(np.float64)


def spans(signal: np.ndarray, *, quiet: bool, shortest_s: float) -> list[tuple[float, float]]:
    """Stretches (seconds) where ``signal`` is silent (``quiet``) or sounding, at least
    ``shortest_s`` long, found on 10 ms frames."""
    frames = len(signal) // HOP
    rms = np.sqrt(np.square(signal[: frames * HOP].reshape(frames, HOP)).mean(axis=1))
    active = rms > 1e-4
    found, start = [], None
    for i, on in enumerate([*active.tolist(), not quiet]):
        if on != quiet and start is None:
            start = i
        elif on == quiet and start is not None:
            if (i - start) * HOP / RATE >= shortest_s:
                found.append((start * HOP / RATE, i * HOP / RATE))
            start = None
    return found


def gains_db(
    mix: np.ndarray, parts: dict[str, np.ndarray], window: tuple[float, float]
) -> dict[str, float]:
    """The level (dB) at which each known part is in ``mix`` over a window: least squares."""
    a, b = (round(t * RATE) for t in window)
    n = min(len(mix), *(len(p) for p in parts.values()))
    a, b = min(a, n), min(b, n)
    basis = np.stack([p[a:b] for p in parts.values()], axis=1)
    coefficients, *_ = np.linalg.lstsq(basis, mix[a:b], rcond=None)
    return {k: 20 * np.log10(max(abs(c), 1e-9)) for k, c in zip(parts, coefficients, strict=True)}


def lag(signal: np.ndarray, reference: np.ndarray, search: int = 2048) -> int:
    """Samples by which ``signal`` trails ``reference`` (cross-correlation, +-``search``)."""
    n = min(len(signal), len(reference), 10 * RATE)
    spectrum = np.fft.rfft(signal[:n], 2 * n) * np.conj(np.fft.rfft(reference[:n], 2 * n))
    correlation = np.fft.irfft(spectrum)
    candidates = np.concatenate([correlation[: search + 1], correlation[-search:]])
    best = int(np.argmax(candidates))
    return best if best <= search else best - len(candidates)


def shifted(signal: np.ndarray, samples: int) -> np.ndarray:
    """``signal`` moved later by ``samples`` (earlier if negative), zero-filled."""
    if samples >= 0:
        return np.concatenate([np.zeros(samples), signal])
    return signal[-samples:]


def integrated_lufs(path: Path, stream: str = "a:0") -> float:
    from dubbing_pipeline.infra.mix import measure

    return measure(path, stream).integrated_lufs


def audio_streams(path: Path) -> Sequence[dict]:
    return [s for s in media.probe(path).raw["streams"] if s["codec_type"] == "audio"]
