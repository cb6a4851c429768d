"""Speech synthesis: espeak-ng (every language, a separate GPL program) and Piper (neural,
English voice packaged; GPL-3.0, an optional extra)."""

from __future__ import annotations

import wave
from functools import lru_cache
from pathlib import Path

from dagster import ConfigurableResource

from dubbing_pipeline.domain import languages
from dubbing_pipeline.domain.errors import JobErrorType, JobProcessingError, validation_error
from dubbing_pipeline.domain.voices import PaletteVoice, VoiceReference
from dubbing_pipeline.engines._process import run_tool
from dubbing_pipeline.engines.models import piper_voice_path

# espeak-ng's voice variants, lowest first, with the median F0 each speaks at (pYIN on a Spanish
# sentence, espeak-ng 1.52): what a speaker's own median F0 is matched against.
ESPEAK_VARIANTS = (
    PaletteVoice("m1", 92.8),
    PaletteVoice("m4", 93.6),
    PaletteVoice("m2", 99.7),
    PaletteVoice("m6", 100.9),
    PaletteVoice("m3", 105.1),
    PaletteVoice("m7", 106.3),
    PaletteVoice("f4", 178.8),
    PaletteVoice("f1", 179.8),
    PaletteVoice("f2", 193.8),
    PaletteVoice("f5", 204.2),
    PaletteVoice("f3", 210.1),
)


class EspeakTTS(ConfigurableResource):
    """espeak-ng: formant synthesis, fast and robotic, but it speaks ~100 languages offline.
    Each speaker gets a voice variant (``ESPEAK_VARIANTS``) fitting their pitch."""

    binary: str = "espeak-ng"
    voice: str | None = None  # default: the target language's own voice
    words_per_minute: int = 160

    @property
    def voice_id(self) -> str:
        return f"espeak-ng:{self.voice or 'lang'}:{self.words_per_minute}"

    def languages(self) -> list[str] | None:
        if self.voice:
            return None  # one voice for every language asked for
        listing = run_tool([self.binary, "--voices"]).splitlines()[1:]
        codes = {line.split()[1] for line in listing if len(line.split()) > 1}
        return sorted({languages.base(c) for c in codes if languages.is_valid(c)})

    def check_language(self, language: str) -> None:
        voice = self.voice or languages.base(language)
        if len(run_tool([self.binary, f"--voices={voice}"]).strip().splitlines()) < 2:
            raise validation_error(f"espeak-ng has no voice for {language!r}")

    @property
    def reference_sample_rate(self) -> None:
        return None  # fixed voices: a speaker reference would be ignored, so none is cut

    def synthesize(
        self, text: str, language: str, out: Path, voice: VoiceReference | None = None
    ) -> None:
        self._speak(self.voice or languages.base(language), text, out)

    def palette(self, language: str) -> list[PaletteVoice]:
        return list(ESPEAK_VARIANTS)

    def synthesize_as(self, voice: str, text: str, language: str, out: Path) -> None:
        if voice not in {v.name for v in ESPEAK_VARIANTS}:
            raise validation_error(f"espeak-ng has no voice variant {voice!r}")
        self._speak(f"{self.voice or languages.base(language)}+{voice}", text, out)

    def _speak(self, voice_name: str, text: str, out: Path) -> None:
        args = ["-v", voice_name, "-s", str(self.words_per_minute), "-w", str(out), "--stdin"]
        run_tool([self.binary, *args], stdin=text)


class PiperTTS(ConfigurableResource):
    """Piper (onnxruntime). ``model_path`` defaults to the packaged en_US 'joe' voice."""

    model_path: str | None = None
    length_scale: float = 1.0

    @property
    def voice_id(self) -> str:
        return f"piper:{Path(self._model()).stem}:{self.length_scale}"

    def languages(self) -> list[str]:
        return [languages.base(_load_voice(self._model()).config.espeak_voice)]

    def check_language(self, language: str) -> None:
        voice_language = _load_voice(self._model()).config.espeak_voice
        if languages.base(voice_language) != languages.base(language):
            raise validation_error(
                f"Piper voice {Path(self._model()).stem} speaks {voice_language}, not {language}"
            )

    @property
    def reference_sample_rate(self) -> None:
        return None  # one fixed voice per model

    def synthesize(
        self, text: str, language: str, out: Path, voice: VoiceReference | None = None
    ) -> None:
        self._speak(text, out, None)

    def palette(self, language: str) -> list[PaletteVoice]:
        """A multi-speaker model's speakers (by id; their pitches are unknown, so speakers take
        them in order of their own pitch); [] for a single-speaker model."""
        config = _load_voice(self._model()).config
        if config.num_speakers <= 1:
            return []
        names = {i: name for name, i in (config.speaker_id_map or {}).items()}
        return [PaletteVoice(names.get(i, str(i))) for i in range(config.num_speakers)]

    def synthesize_as(self, voice: str, text: str, language: str, out: Path) -> None:
        config = _load_voice(self._model()).config
        ids = {**{str(i): i for i in range(config.num_speakers)}, **(config.speaker_id_map or {})}
        if voice not in ids:
            raise validation_error(
                f"Piper voice {Path(self._model()).stem} has no speaker {voice!r}"
            )
        self._speak(text, out, ids[voice])

    def _speak(self, text: str, out: Path, speaker_id: int | None) -> None:
        from piper import SynthesisConfig

        piper_voice = _load_voice(self._model())
        settings = SynthesisConfig(length_scale=self.length_scale, speaker_id=speaker_id)
        with wave.open(str(out), "wb") as wav:
            piper_voice.synthesize_wav(text, wav, syn_config=settings)

    def _model(self) -> str:
        return self.model_path or str(piper_voice_path())


@lru_cache(maxsize=2)
def _load_voice(model_path: str):
    try:
        from piper import PiperVoice
    except ImportError as exc:
        raise JobProcessingError(
            "Piper TTS needs the optional extra: pip install 'dubbing[piper]'",
            JobErrorType.PERMANENT,
        ) from exc
    return PiperVoice.load(model_path)
