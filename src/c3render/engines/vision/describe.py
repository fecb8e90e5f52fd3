"""A short English description composed from the embedded analyzer's findings.

It leads with what the photo shows (the classifier's subject, in everyday words and with
its confidence), then the people (mediapipe), the text (OCR) and the picture itself. Every
phrase comes from a measurement or a detection in the analysis dict: nothing is said that
no model found, and what no model found is not listed either.
"""

from __future__ import annotations

from typing import Any

PAPER = frozenset({"white", "grey", "beige"})
NUMBERS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}
QUOTE_CHARS = 60


def _count(n: int, noun: str, plural: str | None = None) -> str:
    word = NUMBERS.get(n, str(n))
    return f"{word} {noun if n == 1 else plural or noun + 's'}"


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _quote(text: str) -> str:
    short = text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1].rstrip() + "…"
    return f"“{short}”"


def face_phrase(face: dict[str, Any]) -> str:
    """``facing the camera, tilted, smiling`` for one face with a mesh; '' without."""
    if "head" not in face:
        return ""
    parts = [face["head"]["facing"]]
    if face["head"]["tilted"]:
        parts.append("head tilted")
    cues = face["expression"]
    parts += [label for key, label in (("smiling", "smiling"), ("mouth_open", "mouth open"),
                                       ("eyes_closed", "eyes closed")) if cues[key]]
    return ", ".join(parts)


def people_phrase(analysis: dict[str, Any]) -> str:
    """``one person (head and shoulders) facing the camera, smiling`` or ''."""
    count = analysis["people_count"]
    if count == 0:
        return ""
    faces, person = analysis["faces"], analysis["person"]
    phrase = _count(count, "person", "people")
    if count == 1 and person is not None:
        phrase += f" ({person['framing']})"
    if faces:
        details = {face_phrase(face) for face in faces}
        detail = face_phrase(faces[0])
        if count > 1 and len(faces) == count and len(details) == 1 and detail:
            phrase += f", {'both' if count == 2 else 'all'} {detail}"
        elif detail:
            phrase += f" {detail}" if count == 1 else f"; the largest face is {detail}"
    else:
        phrase += " whose face is not visible"
    hands = len(analysis["hands"])
    if hands:
        phrase += f", {_count(hands, 'hand')} visible"
    return phrase


def _where(line: dict[str, Any]) -> str:
    row = line["position"].split()[0]
    return "in the middle" if row == "middle" else f"at the {row}"


def text_phrase(lines: list[dict[str, Any]]) -> str:
    """Where the text is and what it says, or ''."""
    if not lines:
        return ""
    if len(lines) == 1:
        return f"the text {_quote(lines[0]['text'])} appears {_where(lines[0])}"
    if len(lines) == 2:
        first, second = lines
        if _where(first) == _where(second):
            return (f"the text {_quote(first['text'])} and {_quote(second['text'])} "
                    f"appears {_where(first)}")
        return (f"the text {_quote(first['text'])} appears {_where(first)} "
                f"and {_quote(second['text'])} {_where(second)}")
    return f"{_count(len(lines), 'line')} of text, beginning {_quote(lines[0]['text'])}"


def colour_phrase(image: dict[str, Any]) -> str:
    """``mostly orange, red and brown`` (colours are measured; no scene is guessed from them)."""
    names = [c["name"] for c in image["colours"]]
    return f"mostly {_join(names)}" if names else "no single colour dominates"


def safety_phrase(safety: dict[str, Any]) -> str:
    """What nudenet found, never a verdict of "safe" on its word alone."""
    label = safety["label"]
    if label == "nudity":
        return "Nudity detected."
    if label == "revealing":
        return "Revealing clothing or bare skin detected."
    return "No nudity detected."


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def subject_opening(subject: dict[str, Any] | None, people: str, is_page: bool,
                    lines: int) -> str:
    """The first clause: the subject and the people, or the page, or an honest blank."""
    if subject is not None and subject["kind"] == "clothing":
        subject = {**subject, "phrase": subject["phrase"].replace(
            subject["word"], f"wearing {subject['word']}")}
    if is_page and (subject is None or subject["confidence"] < 0.55):
        return f"A page with {_count(lines, 'line')} of text"
    if people:
        if subject is not None and subject["kind"] == "thing" and subject["confidence"] < 0.3:
            subject = None  # a faint guess at an object does not outrank the people found
        if subject is None:
            return _capital(people)
        joiner = ", " if subject["kind"] in {"clothing", "person"} else " with "
        if subject["kind"] in {"clothing", "person"}:
            return _capital(people) + joiner + subject["phrase"]
        return _capital(subject["phrase"]) + joiner + people
    if subject is None or subject["kind"] == "person":
        return "The main subject was not recognised"
    return _capital(subject["phrase"])


def describe(analysis: dict[str, Any]) -> str:
    """The whole description: subject and people, text, the picture, safety, camera."""
    image = analysis["image"]
    people, lines = people_phrase(analysis), analysis["text"]
    subject = (analysis.get("subject") or {}).get("subject")
    is_page = (not people and len(lines) >= 3
               and image["colours"] and image["colours"][0]["name"] in PAPER)
    first = subject_opening(subject, people, is_page, len(lines))
    text = text_phrase(lines)
    if is_page:
        first += f", beginning {_quote(lines[0]['text'])}"
    elif text:
        first += f"; {text}"
    kind = "black-and-white photo" if image["grayscale"] else "photo"
    shape = {"square": "square", "portrait": "upright", "landscape": "wide"}[image["orientation"]]
    sentences = [first + ".",
                 f"A {image['focus']}, {image['lighting']} {image['width']}×{image['height']} "
                 f"{shape} {kind}, {colour_phrase(image)}.",
                 safety_phrase(analysis["safety"])]
    exif = image.get("exif", {})
    if exif.get("camera") or exif.get("date"):
        taken = " ".join(filter(None, [
            f"with a {exif['camera']}" if exif.get("camera") else "",
            f"on {exif['date']}" if exif.get("date") else "",
        ]))
        sentences.append(f"Taken {taken}.")
    if analysis.get("prompt"):
        sentences.append("The question was not answered: it needs a vision-language model "
                         "(set C3_VLM_MODEL_DIR).")
    return " ".join(sentences)
