"""ImageNet's 1,000 fine classes in the words people use, and an honest verdict on a photo.

Breeds and species are gathered into the word a person would say (a tabby, a Persian and an
Egyptian Mau are each "a cat"); the classifier's probabilities of every class sharing a word
are added before anything is decided, so a cat whose breed is unclear is still clearly a cat.
The verdict says "a cat" only when the summed probability is high, "probably"/"possibly" in
the bands below, and nothing at all under the lowest band.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CERTAIN, PROBABLE, POSSIBLE = 0.55, 0.3, 0.15
"""Summed probability needed to say "a cat", "probably a cat", "possibly a cat"."""
TEXTURE_PRONE_MIN = 0.6
"""Classes an ImageNet model gives to textures and images unlike its training photos (a grey
moon comes out as "nematode", galaxies as "bubble", gravel as "doormat"): only this sure."""

# (first index, last index, word): contiguous runs of ImageNet-1k's class order.
RANGES: tuple[tuple[int, int, str], ...] = (
    (0, 1, "a fish"), (2, 4, "a shark"), (5, 6, "a ray"), (7, 8, "a chicken"), (9, 9, "an ostrich"),
    (10, 24, "a bird"), (25, 28, "a salamander"), (29, 29, "an axolotl"), (30, 32, "a frog"),
    (33, 37, "a turtle"), (38, 48, "a lizard"), (49, 50, "a crocodile"), (51, 51, "a dinosaur"),
    (52, 68, "a snake"), (72, 77, "a spider"), (80, 83, "a bird"), (84, 84, "a peacock"),
    (85, 86, "a bird"), (87, 90, "a parrot"), (91, 96, "a bird"), (97, 98, "a duck"),
    (99, 99, "a goose"), (100, 100, "a swan"), (101, 101, "an elephant"), (104, 104, "a kangaroo"),
    (118, 121, "a crab"), (122, 123, "a lobster"), (127, 144, "a bird"), (145, 145, "a penguin"),
    (146, 146, "a bird"), (147, 148, "a whale"), (150, 150, "a sea lion"), (151, 268, "a dog"),
    (269, 271, "a wolf"), (273, 273, "a dog"), (274, 275, "a wild dog"), (277, 280, "a fox"),
    (281, 285, "a cat"), (288, 290, "a leopard"), (294, 297, "a bear"), (300, 307, "a beetle"),
    (321, 326, "a butterfly"), (330, 332, "a rabbit"), (335, 335, "a squirrel"),
    (339, 339, "a horse"), (341, 342, "a pig"), (345, 345, "a cow"), (348, 349, "a sheep"),
    (350, 350, "a goat"), (351, 353, "an antelope"), (354, 354, "a camel"),
    (356, 359, "a weasel"), (365, 367, "an ape"), (368, 382, "a monkey"), (383, 384, "a lemur"),
    (385, 386, "an elephant"), (389, 397, "a fish"),
)
WORDS: dict[int, str] = {
    # vehicles
    407: "an ambulance", 436: "a car", 468: "a taxi", 511: "a car", 609: "a car", 627: "a car",
    656: "a car", 661: "a vintage car", 717: "a pickup truck", 751: "a racing car", 817: "a car",
    581: "a car", 479: "a car", 555: "a fire engine", 569: "a truck", 675: "a truck",
    864: "a truck", 867: "a truck", 779: "a bus", 874: "a bus", 654: "a minibus",
    472: "a boat", 484: "a boat", 576: "a gondola", 625: "a boat", 814: "a boat", 871: "a boat",
    914: "a boat", 780: "a sailing ship", 724: "a sailing ship", 510: "a ship", 628: "a ship",
    554: "a fireboat", 403: "an aircraft carrier", 404: "an aeroplane", 895: "an aeroplane",
    908: "an aeroplane", 657: "a rocket", 744: "a rocket", 812: "a rocket",
    466: "a train", 547: "a train", 565: "a train", 705: "a train", 820: "a steam train",
    829: "a tram", 444: "a bicycle", 671: "a bicycle", 870: "a tricycle",
    665: "a motorbike or scooter", 670: "a motorbike or scooter",
    # food and drink
    967: "a cup of coffee", 968: "a cup", 504: "a mug", 948: "an apple", 950: "an orange",
    930: "a loaf of bread", 966: "a glass of red wine", 929: "an ice lolly",
    409: "a clock", 530: "a clock", 892: "a clock", 487: "a mobile phone",
    620: "a laptop", 681: "a laptop", 664: "a computer monitor", 782: "a computer monitor",
    527: "a desktop computer", 759: "a camera", 732: "a camera",
    # scenes
    970: "mountains", 972: "a cliff", 975: "a lakeshore", 976: "a headland", 977: "a sandbar",
    978: "a beach", 979: "a valley", 980: "a volcano", 973: "a coral reef",
    # mushrooms
    947: "a mushroom", 992: "a mushroom", 993: "a mushroom", 994: "a mushroom", 996: "a mushroom",
    997: "a mushroom",
}
PEOPLE = {981: "a baseball player", 982: "a bridegroom", 983: "a scuba diver"}
"""Classes that are people: named only when the person detectors also found someone."""
CLOTHING = frozenset({
    399, 400, 411, 439, 445, 451, 452, 457, 459, 474, 501, 502, 514, 515, 518, 560, 568, 578,
    601, 608, 610, 614, 617, 638, 639, 652, 655, 667, 689, 697, 715, 735, 775, 796, 808, 834,
    841, 842, 869, 887, 903, 906,
})
"""Garments and headwear: with a person found they describe what the person wears."""
TEXTURE_PRONE = frozenset({
    107, 111, 489, 490, 539, 599, 611, 646, 750, 794, 807, 815, 868, 885, 904, 911, 916, 918, 971,
})


@dataclass(frozen=True)
class Subject:
    """What the classifier says the photo shows, in everyday words."""

    word: str
    """``a cat`` (with its article)."""
    confidence: float
    """The summed probability of every ImageNet class that shares the word."""
    kind: str
    """``thing``, ``scene``, ``clothing`` or ``person``."""
    classes: tuple[str, ...]
    """The fine ImageNet classes behind the word, most likely first."""

    def phrase(self) -> str:
        """``a cat``, ``probably a cat`` or ``possibly a cat``."""
        if self.confidence >= CERTAIN:
            return self.word
        return f"{'probably' if self.confidence >= PROBABLE else 'possibly'} {self.word}"


def _article(name: str) -> str:
    name = re.sub(r"\s*\(.*?\)", "", name).split(" / ")[0].split(",")[0]
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def everyday_word(index: int, fine_name: str) -> str:
    """The word for one ImageNet class: ``a cat`` for a tabby, else the class's own name."""
    for first, last, word in RANGES:
        if first <= index <= last:
            return word
    return WORDS.get(index) or PEOPLE.get(index) or _article(fine_name)


def kind_of(index: int) -> str:
    """``person``, ``clothing``, ``scene`` or ``thing``."""
    if index in PEOPLE:
        return "person"
    if index in CLOTHING:
        return "clothing"
    return "scene" if 970 <= index <= 980 else "thing"


def verdict(probabilities: list[float], names: list[str]) -> Subject | None:
    """The most likely everyday word with its summed probability, or None under the bands."""
    totals: dict[str, float] = {}
    members: dict[str, list[int]] = {}
    for index, probability in enumerate(probabilities):
        word = everyday_word(index, names[index])
        totals[word] = totals.get(word, 0.0) + probability
        members.setdefault(word, []).append(index)
    word = max(totals, key=totals.__getitem__)
    indices = sorted(members[word], key=lambda i: -probabilities[i])
    needed = TEXTURE_PRONE_MIN if indices[0] in TEXTURE_PRONE else POSSIBLE
    if totals[word] < needed:
        return None
    shown = tuple(names[i] for i in indices[:3] if probabilities[i] >= 0.01)
    return Subject(word, round(totals[word], 3), kind_of(indices[0]), shown or (names[indices[0]],))
