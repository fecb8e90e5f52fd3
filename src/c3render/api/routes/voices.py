"""GET /voices — the /csm voices a request may name; and the submit-time check of a named one.

The contract's voices are always there; named voices (an addition) come from
``C3_VOICES_DIR`` (``engines/tts/voices.py``), read again at every request so a voice
dropped into the folder is usable at once, without a restart.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from c3render.api.schemas import JobRequest
from c3render.api.services import services
from c3render.engines.tts.voices import BUILT_IN, find_voice, named_voices
from c3render.errors import RequestError

voices_bp = Blueprint("voices", __name__)
BUILT_IN_NOTES = {
    "conversational_a": "the first built-in voice",
    "conversational_b": "the second built-in voice",
}


@voices_bp.get("/voices")
def list_voices() -> Response:
    """The built-in voices, then each named voice with the words of its recording."""
    voices: list[dict[str, Any]] = [
        {"name": name, "kind": "built-in", "description": BUILT_IN_NOTES[name]} for name in BUILT_IN
    ]
    for voice in named_voices(services().settings.voices_dir).values():
        voices.append({"name": voice.name, "kind": "named", "text": voice.text})
    return jsonify({"voices": voices, "also": {
        "random": "one of the built-in voices, the same for a job's retries",
        "clone": "a voice like reference_audio_url (with reference_text)"}})


def check_named_voices(job_request: JobRequest) -> None:
    """400 naming the field when a request (/csm, or /portrait from text) names a voice that
    ``C3_VOICES_DIR`` lacks."""
    folder = services().settings.voices_dir
    voice = getattr(job_request, "voice", None)
    wanted = [("voice", voice)] if isinstance(voice, str) else []
    for index, turn in enumerate(getattr(job_request, "conversation", None) or []):
        wanted.append((f"conversation.{index}.speaker", turn.speaker))
    for field, name in wanted:
        if name in ("random", "clone", *BUILT_IN):
            continue
        if find_voice(folder, name) is None:
            where = "no C3_VOICES_DIR is configured" if folder is None else "see GET /voices"
            raise RequestError(f"{field}: no voice named {name!r} ({where})", field.split(".")[0])
