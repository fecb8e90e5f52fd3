"""Debian's pocketsphinx-testdata LibriVox clips and their reference transcripts."""

from __future__ import annotations

import re
from pathlib import Path

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


def references() -> dict[str, str]:
    """Clip file stem → reference transcript."""
    refs = {}
    for line in (LIBRIVOX / "transcription").read_text().splitlines():
        match = re.match(r"<s>(.*)</s> \((.*)\)", line.strip())
        if match:
            refs[match.group(2)] = match.group(1).strip()
    return refs
