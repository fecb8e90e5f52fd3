"""Text handling for speech: the sentences of a request, split so any length works."""

from __future__ import annotations

import re
from typing import Any

#: A sentence longer than this is split at commas, then between words.
MAX_SENTENCE_CHARS = 250
_SENTENCE_END = re.compile(r"(?<=[.!?…;:])[\"')\]]*\s+")


def split_sentences(text: str, limit: int = MAX_SENTENCE_CHARS) -> list[str]:
    """Split ``text`` into sentences of at most about ``limit`` characters."""
    sentences: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        for sentence in _SENTENCE_END.split(" ".join(paragraph.split())):
            sentences.extend(_split_long(sentence.strip(), limit))
    return [s for s in sentences if s]


def _split_long(sentence: str, limit: int) -> list[str]:
    if len(sentence) <= limit:
        return [sentence]
    pieces: list[str] = []
    current = ""
    for word in re.split(r"(?<=,)\s+|\s+", sentence):
        if current and len(current) + 1 + len(word) > limit:
            pieces.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
        if current.endswith(",") and len(current) > limit // 2:
            pieces.append(current)
            current = ""
    return pieces + ([current] if current else [])


def request_sentences(params: dict[str, Any]) -> list[str]:
    """The sentences to render: each monologue item (long ones split), or the split text."""
    monologue = params.get("monologue")
    if monologue:
        return [piece for item in monologue for piece in split_sentences(str(item))]
    return split_sentences(str(params.get("text") or ""))


def spoken_turns(params: dict[str, Any]) -> list[tuple[str | None, str]]:
    """(speaker, sentence) pairs: each ``conversation`` turn's sentences with its speaker, or
    the request's sentences with no speaker of their own (the job's voice speaks them)."""
    conversation = params.get("conversation")
    if conversation:
        return [(str(turn["speaker"]), piece) for turn in conversation
                for piece in split_sentences(str(turn["text"]))]
    return [(None, sentence) for sentence in request_sentences(params)]


def word_count(text: str) -> int:
    """Number of spoken words in ``text``."""
    return len(re.findall(r"[\w']+", text))
