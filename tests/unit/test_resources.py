"""Engines are chosen by configuration only, and one whose optional extra is missing is refused
when the definitions load, naming the extra, instead of failing deep inside a run."""

from __future__ import annotations

import subprocess
import sys
from importlib.util import find_spec

import pytest

from dubbing_pipeline.defs.resources import MissingExtraError, default_resources
from dubbing_pipeline.engines.mt import ApertiumMT
from dubbing_pipeline.engines.mt_transformers import TransformersMT
from dubbing_pipeline.engines.tts import EspeakTTS


def test_defaults_are_the_offline_engines(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DUBBING_MT", "DUBBING_TTS", "DUBBING_LIPSYNC_LAUNCHER"):
        monkeypatch.delenv(name, raising=False)
    resources = default_resources()
    assert isinstance(resources["mt"], ApertiumMT) and isinstance(resources["tts"], EspeakTTS)
    assert resources["lipsync"].launcher == "subprocess"


def test_transformers_mt_is_selected_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUBBING_MT", "transformers")
    monkeypatch.setenv("DUBBING_MT_MODEL", "/models/opus-mt-en-es")
    mt = default_resources()["mt"]
    assert isinstance(mt, TransformersMT) and mt.model == "/models/opus-mt-en-es"


def test_a_missing_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUBBING_MT", "transformers")
    monkeypatch.setitem(sys.modules, "transformers", None)  # as if [translate] were absent
    with pytest.raises(MissingExtraError, match=r"pip install 'dubbing\[translate\]'"):
        default_resources()


def test_unknown_engines_list_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUBBING_TTS", "festival")
    with pytest.raises(ValueError, match=r"tts\s+Input should be 'espeak', 'piper' or 'coqui'"):
        default_resources()


@pytest.mark.skipif(find_spec("TTS") is not None, reason="coqui-tts is installed here")
def test_coqui_without_its_extra_fails_at_definition_load() -> None:
    load = subprocess.run(
        [sys.executable, "-c", "import dubbing_pipeline.definitions"],
        env={"DUBBING_TTS": "coqui", "DUBBING_TTS_MODEL": "/models/xtts", "PATH": ""},
        capture_output=True,
        text=True,
        check=False,
    )
    assert load.returncode != 0
    assert "Coqui TTS needs the optional extra: pip install 'dubbing[coqui]'" in load.stderr
