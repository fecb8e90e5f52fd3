"""Who is really in the picture: detector scores checked against each other.

A face detector alone can fire on a round fruit and a pose model alone can fit a skeleton
to a chair, so neither is believed on its own word: a face counts when its detection is
confident and the face mesh also found a face there (or its detection is very confident);
a body pose counts when a counted face lies inside it, or when most of a body is visible
and the classifier is not sure the photo shows some object instead.
"""

from __future__ import annotations

from typing import Any

FACE_MIN = 0.7
"""Detection score a face needs when the face mesh confirms it."""
FACE_ALONE_MIN = 0.9
"""Detection score a face needs when the mesh found no landmarks on it."""
BODY_LANDMARKS = 20
"""Visible pose landmarks (of 33) for a body without a face to count as a person."""
SURE_OBJECT = 0.55
"""A classifier this sure of a non-person subject vetoes a faceless pose."""


def confirmed_faces(faces: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The faces both detectors agree on (mesh-only faces have no detection score)."""
    kept = []
    for face in faces:
        score = face.get("score")
        if score is None:
            continue
        if score >= FACE_ALONE_MIN or (score >= FACE_MIN and "head" in face):
            kept.append(face)
    return kept


def _inside(face: dict[str, Any], box: list[int]) -> bool:
    fx, fy, fw, fh = face["box"]
    x, y, w, h = box
    cx, cy = fx + fw / 2, fy + fh / 2
    return x - fw <= cx <= x + w + fw and y - fh <= cy <= y + h + fh


def confirmed_person(person: dict[str, Any] | None, faces: list[dict[str, Any]],
                     subject: dict[str, Any] | None) -> dict[str, Any] | None:
    """The pose if other evidence backs it, else None."""
    if person is None:
        return None
    if any(_inside(face, person["box"]) for face in faces):
        return person
    sure_object = (subject is not None and subject["kind"] in {"thing", "scene"}
                   and subject["confidence"] >= SURE_OBJECT)
    if person["visible_landmarks"] >= BODY_LANDMARKS and not sure_object:
        return person
    return None


def people(faces: list[dict[str, Any]], person: dict[str, Any] | None,
           subject: dict[str, Any] | None) -> dict[str, Any]:
    """``faces``, ``person`` and ``people_count`` after the cross-checks, with what was dropped."""
    kept = confirmed_faces(faces)
    body = confirmed_person(person, kept, subject)
    return {
        "faces": kept,
        "person": body,
        "people_count": max(len(kept), 1 if body else 0),
        "unconfirmed": {"faces": len(faces) - len(kept), "pose": person is not None and body is None},
    }
