"""A short English description composed from the embedded analyzer's findings.

Every phrase comes from a measurement or a detection in the analysis dict; nothing is
said that the detectors did not find.
"""

from __future__ import annotations

from typing import Any

SKY = frozenset({"blue", "light blue", "dark blue"})
GROUND = frozenset({"green", "olive", "brown", "beige", "yellow", "orange"})
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


def colour_phrase(image: dict[str, Any], outdoors_hint: bool) -> str:
    """Main colours, and the sky-over-ground layout when the colours show it."""
    names = [c["name"] for c in image["colours"]]
    sentence = f"Mostly {_join(names)}" if names else "No single colour dominates"
    top, bottom = image["bands"]["top"], image["bands"]["bottom"]
    if outdoors_hint and top in SKY and bottom in GROUND:
        sentence += f", {top} above and {bottom} below, like sky over land: probably an outdoor view"
    elif outdoors_hint and top in SKY:
        sentence += f"; the top is {top}, like sky"
    elif top != bottom:
        sentence += f", {top} at the top and {bottom} at the bottom"
    return sentence + "."


def safety_phrase(safety: dict[str, Any]) -> str:
    """``safe``, ``revealing clothing or skin`` or ``nudity detected``."""
    label = safety["label"]
    if label == "nudity":
        return "nudity detected"
    if label == "revealing":
        return "revealing clothing or bare skin detected"
    return "safe"


def describe(analysis: dict[str, Any]) -> str:
    """The whole description: one sentence of findings, then colours, camera and safety."""
    image = analysis["image"]
    people, text = people_phrase(analysis), text_phrase(analysis["text"])
    kind = "black-and-white image" if image["grayscale"] else "image"
    shape = {"square": "square", "portrait": "upright", "landscape": "wide"}[image["orientation"]]
    opening = f"A {image['focus']}, {image['lighting']} {image['width']}×{image['height']} {shape} {kind}"
    is_page = (not people and len(analysis["text"]) >= 3
               and image["colours"] and image["colours"][0]["name"] in PAPER)
    if is_page:
        opening += " of a page"
    first = f"{opening} of {people}" if people else opening
    if text.startswith("the text"):
        first += f"; {text}"
    elif text:
        first += f"{',' if people else ''} with {text}"
    if not people and not text:
        first += "; no people, faces or text were found"
    sentences = [f"{first}; {safety_phrase(analysis['safety'])}."]
    sentences.append(colour_phrase(image, outdoors_hint=not people and not analysis["text"]))
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
