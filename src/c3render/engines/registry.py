"""Which engine renders which job type.

Each job type has a default factory (the embedded engine, or the production one when its
settings are given); ``C3_ENGINES=type=module:factory`` overrides it, which is how tests
plug in fixture engines. Factories are imported lazily, in the engine process only, so
the API never imports a model library.
"""

from __future__ import annotations

import importlib

from c3render.engines.base import Engine, EngineFactory
from c3render.errors import EngineUnavailable
from c3render.job import JobType
from c3render.settings import Settings

DEFAULT_ENGINES: dict[JobType, str] = {
    JobType.CSM: "c3render.engines.tts:create_engine",
    JobType.WHISPER: "c3render.engines.stt:create_engine",
    JobType.ANALYZE: "c3render.engines.vision:create_engine",
    JobType.PORTRAIT: "c3render.engines.portrait:create_engine",
}


def factory_path(job_type: JobType, settings: Settings) -> str:
    """The ``module:factory`` that builds the engine of ``job_type`` under ``settings``."""
    return settings.engines.get(job_type.value) or DEFAULT_ENGINES[job_type]


def load_factory(path: str) -> EngineFactory:
    """Import ``module:attr``; raise ``EngineUnavailable`` naming what is missing."""
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise EngineUnavailable(
            f"engine {path} cannot be imported ({exc}); install the engines with "
            "scripts/setup.sh or pip install -r requirements/engines.txt"
        ) from None
    try:
        factory: EngineFactory = getattr(module, attr or "create_engine")
    except AttributeError:
        raise EngineUnavailable(f"engine {path}: {module_name} has no {attr!r}") from None
    return factory


def create_engine(job_type: JobType, settings: Settings) -> Engine:
    """Build (but do not load) the engine for ``job_type``."""
    engine = load_factory(factory_path(job_type, settings))(settings)
    if engine.job_type != job_type:
        raise EngineUnavailable(
            f"engine {type(engine).__name__} renders {engine.job_type.value}, not {job_type.value}"
        )
    return engine
