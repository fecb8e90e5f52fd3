"""Named voices: a folder of recordings, each with its words, that become /csm voices.

``C3_VOICES_DIR`` holds ``<name>.wav`` + ``<name>.txt`` pairs (the recording of a speaker and
what they say in it, 3–60 s of clean speech). Each pair is a voice a request may name
(``"voice": "<name>"``, and a conversation turn's ``speaker``) beside the contract's built-in
ones. CSM-1B continues from the recording as its context, as it does for ``clone``; the
embedded engine renders it as its clone of that recording, searched once per engine process
and reused for every later job. The API checks the name against the same folder, so API and
workers must see the same files (a shared volume or the same image).

Only this module knows the folder's layout; it imports nothing heavy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

BUILT_IN = ("conversational_a", "conversational_b")
"""The contract's voices (``random`` picks one of them; ``clone`` takes a reference)."""
RESERVED = frozenset({*BUILT_IN, "random", "random_voice", "clone", "conversation"})
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
"""A voice name: lower case letters, digits, ``_`` and ``-``; it is also a file name."""
MAX_WORDS_CHARS = 2000


@dataclass(frozen=True)
class NamedVoice:
    """One recording of a speaker and its words."""

    name: str
    audio: Path
    text: str


def named_voices(folder: Path | None) -> dict[str, NamedVoice]:
    """Every usable ``<name>.wav`` + non-empty ``<name>.txt`` in ``folder``, by name."""
    if folder is None or not folder.is_dir():
        return {}
    voices = {}
    for audio in sorted(folder.glob("*.wav")):
        voice = _read(folder, audio.stem)
        if voice is not None:
            voices[voice.name] = voice
    return voices


def find_voice(folder: Path | None, name: str) -> NamedVoice | None:
    """The named voice ``name`` in ``folder``, or None (also for names that are not valid)."""
    if folder is None or not NAME.match(name) or name in RESERVED:
        return None
    return _read(folder, name)


def _read(folder: Path, name: str) -> NamedVoice | None:
    if not NAME.match(name) or name in RESERVED:
        return None
    audio, words = folder / f"{name}.wav", folder / f"{name}.txt"
    if not (audio.is_file() and words.is_file()):
        return None
    text = words.read_text(encoding="utf-8", errors="replace").strip()[:MAX_WORDS_CHARS]
    return NamedVoice(name, audio, text) if text else None
