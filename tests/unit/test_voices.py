"""Named voices: which files of a voices folder become voices, and how requests name them."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from c3render.api.schemas import CsmRequest
from c3render.engines.tts.voices import find_voice, named_voices


def voice_files(folder: Path, name: str, words: str = "some words") -> None:
    (folder / f"{name}.wav").write_bytes(b"RIFF")
    (folder / f"{name}.txt").write_text(words)


def test_a_folder_yields_each_complete_pair(tmp_path: Path) -> None:
    voice_files(tmp_path, "alice", " Hello there. \n")
    voice_files(tmp_path, "bob-2")
    voice_files(tmp_path, "empty", "  ")             # no words: not a voice
    (tmp_path / "lonely.wav").write_bytes(b"RIFF")   # no .txt
    voice_files(tmp_path, "Upper")                  # not a valid name
    voice_files(tmp_path, "clone")                  # reserved
    voices = named_voices(tmp_path)
    assert list(voices) == ["alice", "bob-2"]
    assert voices["alice"].text == "Hello there." and voices["alice"].audio == tmp_path / "alice.wav"
    assert named_voices(None) == {} and named_voices(tmp_path / "missing") == {}


def test_find_voice_refuses_what_is_not_a_plain_name(tmp_path: Path) -> None:
    voice_files(tmp_path, "alice")
    assert find_voice(tmp_path, "alice") is not None
    for name in ("../alice", "alice.txt", "", "conversational_a", "random", "a" * 65):
        assert find_voice(tmp_path, name) is None
    assert find_voice(None, "alice") is None


def test_requests_may_name_a_voice_and_keep_the_contract_ones() -> None:
    assert CsmRequest.model_validate({"text": "a", "voice": "alice"}).voice == "alice"
    assert CsmRequest.model_validate({"text": "a", "voice": "random_voice"}).voice == "random"
    turns = [{"speaker": "alice", "text": "Hi."}, {"speaker": "conversational_b", "text": "Yo."}]
    assert CsmRequest.model_validate({"conversation": turns}).conversation is not None
    for bad in ("Alice", "../x", "", 5):
        with pytest.raises(ValidationError):
            CsmRequest.model_validate({"text": "a", "voice": bad})


def test_the_documented_schema_still_lists_the_contract_voices() -> None:
    schema = CsmRequest.model_json_schema()["properties"]["voice"]
    assert schema["anyOf"][0]["enum"] == ["random", "conversational_a", "conversational_b", "clone"]
    assert schema["default"] == "random"
