"""Word error rate, for tests and benchmarks of speech engines."""

from __future__ import annotations

import re

_NUMBERS = {
    "0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five",
    "6": "six", "7": "seven", "8": "eight", "9": "nine", "10": "ten",
}


def normalise(text: str) -> list[str]:
    """Lower-case words without punctuation; "Mr." → mister, hyphens split, digits spelled."""
    text = text.lower().replace("mr.", "mister").replace("mrs.", "missus")
    text = re.sub(r"[-‐–—]", " ", text)
    text = re.sub(r"[^\w\s']", " ", text).replace("'", "")
    return [_NUMBERS.get(word, word) for word in text.split()]


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(edit distance in words, number of reference words) after ``normalise``."""
    ref, hyp = normalise(reference), normalise(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, hyp_word in enumerate(hyp, 1):
            previous, row[j] = row[j], min(
                row[j] + 1, row[j - 1] + 1, previous + (ref_word != hyp_word)
            )
    return row[-1], len(ref)


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of ``hypothesis`` against ``reference`` (0 = perfect)."""
    errors, words = word_errors(reference, hypothesis)
    return errors / max(1, words)
