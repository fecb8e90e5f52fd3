"""Job references in URL inputs (``job:<id>[#output]``) and the portrait's text form."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from c3render.api.schemas import PortraitRequest, WhisperRequest
from c3render.api.validation import describe
from c3render.job import JobType
from c3render.queue.chains import output_kind, parse_reference, references

JOB_ID = "0b7e3c1a-9f2d-4c5e-8a1b-2d3c4e5f6a7b"


def test_a_reference_names_a_job_and_an_output() -> None:
    assert parse_reference("audio_url", f"job:{JOB_ID}").output == "result"  # type: ignore[union-attr]
    named = parse_reference("audio_url", f"job:{JOB_ID}#speech")
    assert named is not None and (named.job_id, named.output) == (JOB_ID, "speech")
    assert parse_reference("audio_url", "https://example.org/a.wav") is None
    params = {"image_url": "https://example.org/a.png", "audio_url": f"job:{JOB_ID}"}
    assert [r.field for r in references(JobType.PORTRAIT, params)] == ["audio_url"]


def test_outputs_have_kinds() -> None:
    assert output_kind(JobType.CSM, "result") == "audio"
    assert output_kind(JobType.PORTRAIT, "result") == "video"
    assert output_kind(JobType.PORTRAIT, "speech") == "audio"
    assert output_kind(JobType.WHISPER, "result") is None


@pytest.mark.parametrize("value", ["job:123", f"job:{JOB_ID}#", f"job:{JOB_ID}#Speech!",
                                   f"job:{JOB_ID.upper()}", "ftp://example.org/a.wav"])
def test_malformed_references_name_the_field(value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        WhisperRequest.model_validate({"audio_url": value})
    assert describe(caught.value).field == "audio_url"


def test_portrait_takes_exactly_one_of_audio_url_text_or_monologue() -> None:
    assert PortraitRequest.model_validate(
        {"image_url": "https://example.org/a.png", "audio_url": "https://example.org/a.mp3"}
    ).from_text is False
    spoken = PortraitRequest.model_validate(
        {"image_url": "https://example.org/a.png", "monologue": ["One.", "Two."],
         "voice": "conversational_a", "speech_job": "forged"})
    assert spoken.from_text and spoken.speech_job is None  # a client cannot set it
    assert spoken.speech_fields() == {"monologue": ["One.", "Two."], "voice": "conversational_a"}
    for body in ({"image_url": "https://example.org/a.png"},
                 {"image_url": "https://example.org/a.png", "text": "a", "monologue": ["b"]}):
        with pytest.raises(ValidationError) as caught:
            PortraitRequest.model_validate(body)
        assert describe(caught.value).field == "audio_url"
