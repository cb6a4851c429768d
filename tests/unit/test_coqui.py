"""Coqui TTS through the real engine on tiny, randomly initialised models built from configs.

coqui-tts cannot live in the main environment (DESIGN.md section 10), so these tests skip there and
run in the Coqui environment (README, "Coqui TTS"); the one test that runs without coqui-tts checks
what a deployment without it is told.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterEventType

from dubbing_pipeline.cli.runner import stage_failure
from dubbing_pipeline.domain.errors import JobErrorType, JobProcessingError
from dubbing_pipeline.domain.segments import Segment, SegmentDoc
from dubbing_pipeline.domain.stages import Stage
from dubbing_pipeline.domain.voices import Span, VoiceReference
from dubbing_pipeline.engines.stt import FasterWhisperSTT
from dubbing_pipeline.engines.tts_coqui import CoquiTTS
from dubbing_pipeline.infra import media
from dubbing_pipeline.infra.voice_clips import cut_reference, load_reference
from dubbing_pipeline.operations import reviews
from tests.support.helpers import metadata

HAVE_COQUI = importlib.util.find_spec("TTS") is not None
LETTERS = "abcdefghijklmnopqrstuvwxyzáéíóúñü"


@pytest.fixture(scope="module")
def tiny_vits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A single-speaker VITS with random weights: config.json + model.pth, as Coqui ships them."""
    pytest.importorskip("TTS")
    import torch
    from TTS.tts.configs.shared_configs import CharactersConfig
    from TTS.tts.configs.vits_config import VitsConfig
    from TTS.tts.models.vits import Vits, VitsArgs

    args = VitsArgs(
        hidden_channels=32,
        hidden_channels_ffn_text_encoder=64,
        num_layers_text_encoder=1,
        num_layers_posterior_encoder=2,
        num_layers_flow=1,
        upsample_initial_channel_decoder=32,
        resblock_kernel_sizes_decoder=[3],
        resblock_dilation_sizes_decoder=[[1, 3, 5]],
        use_sdp=False,
        init_discriminator=False,
    )
    characters = CharactersConfig(
        characters_class="TTS.tts.models.vits.VitsCharacters",
        pad="_",
        eos="",
        bos="",
        blank=None,
        characters=LETTERS + " ",
        punctuations=".,;:!?¿¡'-",
    )
    config = VitsConfig(
        model_args=args,
        use_phonemes=False,
        phoneme_language="es",
        text_cleaner="multilingual_cleaners",
        characters=characters,
    )
    config.audio.sample_rate = 16_000
    folder = tmp_path_factory.mktemp("tiny-vits")
    torch.manual_seed(1)
    model = Vits(config)
    torch.save({"model": model.state_dict()}, folder / "model.pth")
    config.save_json(str(folder / "config.json"))
    return folder


@pytest.fixture(scope="module")
def tiny_xtts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """XTTS v2's architecture (GPT with perceiver conditioning, HiFi-GAN decoder, speaker
    encoder) at toy GPT sizes with random weights, and a character tokenizer as vocab.json."""
    pytest.importorskip("TTS")
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from TTS.tts.configs.xtts_config import XttsConfig
    from TTS.tts.layers.xtts.tokenizer import VoiceBpeTokenizer
    from TTS.tts.models.xtts import Xtts

    folder = tmp_path_factory.mktemp("tiny-xtts")
    special = ["[STOP]", "[UNK]", "[SPACE]", "[START]", "[en]", "[es]"]
    vocab = {token: i for i, token in enumerate([*special, *LETTERS, *".,;:!?¿¡'-\""])}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tokenizer.add_special_tokens(special)
    tokenizer.pre_tokenizer = pre_tokenizers.Split("", "isolated")  # one token per character
    tokenizer.save(str(folder / "vocab.json"))

    config = XttsConfig(languages=["en", "es"])
    a = config.model_args
    a.gpt_layers, a.gpt_n_model_channels, a.gpt_n_heads, a.decoder_input_dim = 1, 32, 2, 32
    a.gpt_max_audio_tokens, a.gpt_max_prompt_tokens = 24, 20
    a.gpt_num_audio_tokens, a.gpt_start_audio_token, a.gpt_stop_audio_token = 66, 64, 65
    a.gpt_use_perceiver_resampler = True  # as XTTS v2 does
    torch.manual_seed(1)
    model = Xtts(config)
    model.tokenizer = VoiceBpeTokenizer(str(folder / "vocab.json"))
    model.init_models()
    torch.save({"model": model.state_dict()}, folder / "model.pth")
    config.save_json(str(folder / "config.json"))
    return folder


def test_vits_speaks_through_the_engine_and_ignores_references(
    tiny_vits: Path, tmp_path: Path, sample_video: Path
) -> None:
    engine = CoquiTTS(model_path=str(tiny_vits), device="cpu")
    assert engine.reference_sample_rate is None  # so the stage cuts no reference for it
    assert engine.voice_id.startswith("coqui-vits:")
    engine.check_language("es-ES")
    with pytest.raises(JobProcessingError, match="speaks es, not de") as err:
        engine.check_language("de")
    assert err.value.error_type is JobErrorType.VALIDATION

    short, long, again = (tmp_path / f"{n}.wav" for n in ("short", "long", "again"))
    engine.synthesize("Hola.", "es", short)
    engine.synthesize("Mañana lloverá en la ciudad, así que lleva un paraguas.", "es", long)
    engine.synthesize("Hola.", "es", again, voice=_any_reference(tmp_path, sample_video))
    (short_frames, rate), (long_frames, _) = media.wav_samples(short), media.wav_samples(long)
    assert rate == 16_000 and 0 < short_frames < long_frames
    assert short.read_bytes() == again.read_bytes()  # seeded per text; the reference is ignored


def test_xtts_conditions_once_per_reference_and_reproduces_clips(
    tiny_xtts: Path, tmp_path: Path, sample_video: Path
) -> None:
    engine = CoquiTTS(model_path=str(tiny_xtts), device="cpu", seed=7)
    assert engine.reference_sample_rate == 22_050
    engine.check_language("es")
    with pytest.raises(JobProcessingError, match="does not speak 'de'"):
        engine.check_language("de")
    reference = _any_reference(tmp_path, sample_video)
    first, second, same = (tmp_path / f"{n}.wav" for n in ("first", "second", "same"))
    engine.synthesize("Hola a todos.", "es", first, reference)
    latents = engine.loaded().conditioning[reference.sha256]
    engine.synthesize("Buenos días.", "es", second, reference)
    engine.synthesize("Hola a todos.", "es", same, reference)
    assert list(engine.loaded().conditioning) == [reference.sha256]
    assert engine.loaded().conditioning[reference.sha256] is latents  # computed once
    assert first.read_bytes() == same.read_bytes()
    frames, rate = media.wav_samples(second)
    assert rate == 24_000 and frames > 0
    with pytest.raises(JobProcessingError, match="needs the speaker's reference clip"):
        engine.synthesize("Hola.", "es", tmp_path / "none.wav")


def test_xtts_dubs_each_speaker_in_a_voice_cut_from_their_own_speech(
    tiny_xtts: Path, store, new_project, run_stage, approve, resources: dict[str, Any]
) -> None:
    """The whole pipeline with two speakers: one reference each from the approved transcript,
    one conditioning each, and every clip keyed by its speaker's reference."""
    resources["stt"] = FasterWhisperSTT(model="tiny.en")
    resources["tts"] = CoquiTTS(model_path=str(tiny_xtts), device="cpu")
    project = new_project()
    assert run_stage(project, Stage.STT).success
    # Diarisation stand-in: alternate speakers, as a diarising STT engine would label them.
    doc = reviews.load_segments(store, project.id, Stage.STT)
    speakers = [s.model_copy(update={"speaker": f"S{1 + s.id % 2}"}) for s in doc.segments]
    doc = doc.model_copy(update={"segments": speakers})
    store.write_text(reviews.segments_uri(store, project.id, Stage.STT), doc.model_dump_json())
    approve(project, Stage.STT)
    assert run_stage(project, Stage.MT).success
    approve(project, Stage.MT)

    result = run_stage(project, Stage.TTS)
    assert result.success, stage_failure(result)
    figures = metadata(result, Stage.TTS)
    references = figures["voice_references"]
    assert sorted(references) == ["S1", "S2"]
    assert all(3.0 <= r["seconds"] <= 12.0 for r in references.values()), references
    conditioned = set(resources["tts"].loaded().conditioning)
    assert {r["sha256"] for r in references.values()} <= conditioned
    assert figures["clips_synthesized"] == figures["segments"] == len(doc.segments)
    track_frames, rate = media.wav_samples(Path(figures["dub_track_uri"]))
    assert track_frames / rate == pytest.approx(doc.duration, abs=0.05)
    voices_dir = Path(store.artifact_uri(project.id, Stage.TTS, "voices"))
    assert len(list(voices_dir.glob("*.wav"))) == 2

    again = metadata(run_stage(project, Stage.TTS), Stage.TTS)
    assert again["voice_references"] == references  # the stored references are reused
    assert again["clips_reused"] == figures["segments"]


@pytest.mark.skipif(HAVE_COQUI, reason="checks the message a deployment without coqui-tts gets")
def test_without_coqui_tts_the_stage_fails_permanently_naming_the_extra(
    tmp_path: Path, store, new_project, run_stage, approve, resources: dict[str, Any]
) -> None:
    folder = tmp_path / "xtts"
    folder.mkdir()
    config = {"model": "xtts", "languages": ["en", "es"], "audio": {"sample_rate": 22050}}
    (folder / "config.json").write_text(json.dumps(config))
    resources["tts"] = CoquiTTS(model_path=str(folder))
    project = new_project()
    for stage, language, text in ((Stage.STT, "en", "Hello."), (Stage.MT, "es", "Hola.")):
        doc = SegmentDoc(
            language=language, duration=3, segments=[Segment(id=0, start=0, end=2, text=text)]
        )
        store.write_text(reviews.segments_uri(store, project.id, stage), doc.model_dump_json())
        approve(project, stage)
    result = run_stage(project, Stage.TTS)
    error_type, message = stage_failure(result)
    assert error_type == "PERMANENT", message
    assert "pip install 'dubbing[coqui]'" in message and "torch==2.9.1" in message
    retries = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]
    assert retries == []


def _any_reference(tmp_path: Path, video: Path) -> VoiceReference:
    """A reference cut from the sample's first seconds of speech."""
    out = tmp_path / "reference.wav"
    cut_reference(video, [Span(0.0, 3.5), Span(4.6, 7.6)], out, 22_050)
    return load_reference("S1", out)
