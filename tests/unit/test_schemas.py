"""The request schemas accept every CONTRACT.md example with its defaults and refuse the rest."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from c3render.api.schemas import (
    AnalyzeRequest,
    CsmRequest,
    PortraitRequest,
    WhisperRequest,
)
from c3render.api.validation import describe
from c3render.job import JobStatus


def test_csm_defaults_follow_the_contract() -> None:
    request = CsmRequest.model_validate_json(b'{"text": "Hello"}')
    assert request.voice == "random"
    assert request.temperature == 0.9
    assert (request.topk, request.max_audio_length, request.pause_duration) == (50, 10000, 150)
    assert (request.max_time, request.complete_in, request.notify_url) == (1200, 3600, None)
    assert request.format == "mp3"


def test_random_voice_is_an_alias_of_random() -> None:
    assert CsmRequest.model_validate({"text": "a", "voice": "random_voice"}).voice == "random"


def test_monologue_and_clone_are_accepted() -> None:
    CsmRequest.model_validate({"monologue": ["One.", "Two."], "pause_duration": 500})
    CsmRequest.model_validate(
        {"text": "a", "voice": "clone", "reference_audio_url": "https://x.org/a.wav",
         "reference_text": "words"}
    )


def test_other_types_defaults() -> None:
    whisper = WhisperRequest.model_validate({"audio_url": "http://h/a.mp3"})
    assert (whisper.model, whisper.task, whisper.language) == ("medium", "transcribe", "")
    PortraitRequest.model_validate({"image_url": "http://h/a.png", "audio_url": "http://h/a.wav"})
    AnalyzeRequest.model_validate({"image_url": "https://h/a.jpg"})


def test_temperature_accepts_integers() -> None:
    assert CsmRequest.model_validate_json(b'{"text": "a", "temperature": 2}').temperature == 2.0


BAD_CSM = [
    ({"text": "a", "temperature": 2.01}, "temperature"),
    ({"text": "a", "temperature": -0.1}, "temperature"),
    ({"text": "a", "temperature": "1"}, "temperature"),
    ({"text": "a", "topk": 0}, "topk"),
    ({"text": "a", "topk": 101}, "topk"),
    ({"text": "a", "topk": 5.5}, "topk"),
    ({"text": "a", "topk": True}, "topk"),
    ({"text": "a", "max_audio_length": 999}, "max_audio_length"),
    ({"text": "a", "max_audio_length": 30001}, "max_audio_length"),
    ({"text": "a", "pause_duration": -1}, "pause_duration"),
    ({"text": "a", "pause_duration": 501}, "pause_duration"),
    ({"text": "a", "voice": "Robot!"}, "voice"),  # "robot" is a valid name: refused at submit (GET /voices)
    ({"text": "a", "max_time": 59}, "max_time"),
    ({"text": "a", "max_time": 7201}, "max_time"),
    ({"text": "a", "complete_in": 59}, "complete_in"),
    ({"text": "a", "complete_in": 86401}, "complete_in"),
    ({"text": "a", "notify_url": "ftp://h/x"}, "notify_url"),
    ({"text": "a", "notify_url": "not a url"}, "notify_url"),
    ({"text": "  "}, "text"),
    ({"text": 5}, "text"),
    ({}, "text"),
    ({"text": "a", "monologue": ["b"]}, "text"),
    ({"monologue": []}, "monologue"),
    ({"monologue": ["ok", " "]}, "monologue"),
    ({"text": "a", "voice": "clone", "reference_text": "w"}, "reference_audio_url"),
    ({"text": "a", "voice": "clone", "reference_audio_url": "http://h/a"}, "reference_text"),
    ({"text": "a", "voice": "clone", "reference_audio_url": "http://h/a", "reference_text": ""},
     "reference_text"),
    ({"text": "a", "format": "flac"}, "format"),
]


@pytest.mark.parametrize(("body", "field"), BAD_CSM)
def test_invalid_csm_values_name_the_field(body: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        CsmRequest.model_validate_json(json.dumps(body))
    error = describe(caught.value)
    assert error.field == field
    assert str(error).startswith(f"{field}:")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "audio_url"),
        ({"audio_url": "file:///etc/passwd"}, "audio_url"),
        ({"audio_url": "http://h/a", "model": "huge"}, "model"),
        ({"audio_url": "http://h/a", "task": "summarize"}, "task"),
        ({"audio_url": "http://h/a", "language": "e n"}, "language"),
        ({"audio_url": "http://h/a", "language": 7}, "language"),
    ],
)
def test_invalid_whisper_values_name_the_field(body: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        WhisperRequest.model_validate_json(json.dumps(body))
    assert describe(caught.value).field == field


def test_malformed_json_and_non_objects_blame_the_body() -> None:
    for raw in (b"{", b"[1, 2]", b'"text"'):
        with pytest.raises(ValidationError) as caught:
            CsmRequest.model_validate_json(raw)
        assert describe(caught.value).field == "body"


def test_final_statuses() -> None:
    assert {s.value for s in JobStatus if s.is_final} == {
        "success", "failed", "cancelled", "timed_out"
    }


def test_the_user_facing_openapi_additions_are_valid_json_schema_documents() -> None:
    from openapi_spec_validator import validate

    from c3render.api.routes.docs import openapi_document

    openapi_document()
    doc = openapi_document()  # what /openapi.json serves, additions included (and twice alike)
    assert doc == openapi_document()
    validate(doc)  # raises on an invalid OpenAPI 3.1 document
    assert {"/events/{job_id}", "/v1/audio/speech", "/v1/audio/transcriptions",
            "/metrics", "/ui", "/docs"} <= set(doc["paths"])
    names = [p["name"] for p in doc["paths"]["/csm"]["post"]["parameters"]]
    assert "Prefer" in names
    speech = doc["paths"]["/v1/audio/speech"]["post"]["requestBody"]["content"]
    assert "input" in speech["application/json"]["schema"]["properties"]
