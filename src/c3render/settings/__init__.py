"""Settings: one validated object read from the environment and a ``.env`` file.

The contract's variables keep their names (REDIS_HOST, REDIS_PORT, FLASK_SECRET_KEY,
API_HOST, API_PORT, with PORT as a fallback for API_PORT); everything we added is
prefixed ``C3_``. ``load_settings()`` turns a bad value into one ``ConfigError`` line.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from typing_extensions import Annotated

from c3render.errors import ConfigError
from c3render.settings.operations import OperationsSettings
from c3render.settings.parsing import split_commas, split_pairs
from c3render.settings.secret_key import (
    MAKE_SECRET,
    MIN_SECRET_LENGTH,
    WEAK_SECRETS,
    create_secret_file,
    redact_url,
    weak_secret_reason,
)
from c3render.settings.speech import SpeechSettings

__all__ = [
    "MAKE_SECRET", "MIN_SECRET_LENGTH", "WEAK_SECRETS", "Settings", "load_settings",
    "open_farm_warning", "redact_url", "require_strong_secret", "short_key_names",
    "weak_secret_reason",
]

CommaList = Annotated[list[str], NoDecode]

class Settings(BaseSettings, OperationsSettings, SpeechSettings):
    """Every setting of the service. See ``env.sample`` for a commented list (the
    operations ones — log format, proxies — are in ``operations.py``)."""

    model_config = SettingsConfigDict(
        env_prefix="C3_", env_file=".env", extra="ignore", populate_by_name=True
    )

    # --- the contract's variables ----------------------------------------------
    redis_host: str = Field("localhost", validation_alias=AliasChoices("REDIS_HOST"))
    redis_port: int = Field(6379, ge=1, le=65535, validation_alias=AliasChoices("REDIS_PORT"))
    flask_secret_key: str | None = Field(
        None, validation_alias=AliasChoices("FLASK_SECRET_KEY")
    )
    api_host: str = Field("0.0.0.0", validation_alias=AliasChoices("API_HOST"))
    api_port: int = Field(5000, ge=1, le=65535, validation_alias=AliasChoices("API_PORT", "PORT"))

    # --- Redis and the job store -------------------------------------------------
    redis_url: str | None = Field(None, validation_alias=AliasChoices("C3_REDIS_URL", "REDIS_URL"))
    redis_cluster: Literal["auto", "yes", "no"] = "auto"
    """Use a Redis Cluster client: auto-detected from the server (``INFO cluster``)."""
    retention_seconds: int = Field(7 * 24 * 3600, ge=60)
    max_deliveries: int = Field(20, ge=1, le=1000)
    """How often a job's worker may be lost (killed, frozen past its lease) before it fails."""
    max_retries: int = Field(2, ge=0, le=20)
    """How often a failed run that may pass (engine crash, busy input host) is retried."""
    retry_backoff_seconds: float = Field(2.0, ge=0, le=3600)
    """First retry delay; it doubles with each retry."""
    max_queued: int = Field(0, ge=0)
    """Most jobs waiting per job type; over it a submit answers 429 (0: no cap)."""
    fair_share: bool = True
    """Workers take the waiting jobs of each API key name in turn (round robin per job type);
    false: one queue per type, first in first out within each priority."""
    heartbeat_seconds: float = Field(1.0, gt=0, le=60)
    liveness_seconds: float = Field(3.0, gt=0, le=600)
    """A worker whose heartbeats stop for this long is lost: its jobs run elsewhere."""
    reclaim_idle_seconds: float = Field(30.0, gt=0)
    """Safety net: an entry no worker has touched for this long is taken over."""
    shutdown_grace_seconds: float = Field(20.0, ge=0)
    engine_idle_seconds: float = Field(1800.0, gt=0)

    # --- the API -----------------------------------------------------------------
    default_max_time: int = Field(
        1200, ge=60, le=7200,
        validation_alias=AliasChoices("C3_DEFAULT_MAX_TIME", "DEFAULT_MAX_TIME"),
    )
    default_complete_in: int = Field(
        3600, ge=60, le=86400,
        validation_alias=AliasChoices("C3_DEFAULT_COMPLETE_IN", "DEFAULT_COMPLETE_IN"),
    )
    api_keys: CommaList = Field(default_factory=list)
    cors_origins: CommaList = Field(default_factory=lambda: ["*"])
    max_request_bytes: int = Field(1_000_000, ge=1024)
    public_url: str | None = None
    api_server: Literal["granian", "gunicorn"] = "granian"
    api_workers: int = Field(2, ge=1, le=64)
    api_threads: int = Field(4, ge=1, le=256)
    prefer_wait_max_seconds: float = Field(60.0, ge=0, le=600)
    """Longest a submit with ``Prefer: wait=N`` is held waiting for the job to end."""
    openai_wait_seconds: float = Field(600.0, gt=0, le=7200)
    """Longest a /v1/audio request is held for its job; past it the answer is 504."""

    # --- files: data directory, inputs, results, uploads -------------------------
    data_dir: Path = Path("data")
    storage: Literal["local", "s3"] = "local"
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_prefix: str = ""
    link_seconds: int = Field(7 * 24 * 3600, ge=60)
    fetch_max_bytes: int = Field(200 * 1024 * 1024, ge=1024)
    fetch_connect_timeout: float = Field(10.0, gt=0)
    fetch_read_timeout: float = Field(60.0, gt=0)
    fetch_max_redirects: int = Field(5, ge=0, le=20)
    fetch_total_timeout: float = Field(600.0, gt=0)
    """The longest one input download may take in all (a slow drip is cut here)."""
    fetch_allow: CommaList = Field(default_factory=list)
    webhook_allow: CommaList = Field(default_factory=list)
    """Private hosts or networks webhooks may be sent to (separate from C3_FETCH_ALLOW)."""

    # --- tenancy: per-key isolation, rate limits and quotas (0 = no limit) --------
    key_isolation: bool = False
    submits_per_minute: int = Field(0, ge=0)
    max_queued_jobs: int = Field(0, ge=0)
    max_upload_bytes: int = Field(0, ge=0)
    """Bytes of uploads one key may hold at once (until they expire)."""

    # --- webhooks ----------------------------------------------------------------
    webhook_secret: str | None = None
    webhook_max_attempts: int = Field(6, ge=1, le=50)
    webhook_backoff_seconds: float = Field(5.0, gt=0)
    webhook_timeout: float = Field(10.0, gt=0)

    # --- engines -----------------------------------------------------------------
    engines: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    """Engine per job type as ``type=module:factory`` pairs, overriding the defaults."""
    device: str = "cpu"
    # speech to text
    whisper_models: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    """Extra Whisper models as ``name=/path/to/ctranslate2-dir`` pairs (e.g. large-v3=...)."""
    whisper_compute_type: str = "int8"
    whisper_beam_size: int = Field(1, ge=1, le=10)
    whisper_cpu_threads: int = Field(0, ge=0)
    # text to speech
    csm_model_dir: Path | None = None
    # vision
    vlm_model_dir: Path | None = None
    # portrait
    portrait_engine: Literal["embedded", "comfyui"] = "embedded"
    portrait_size: int = Field(512, ge=64, le=2048)
    portrait_max_audio_seconds: float = Field(300.0, gt=0)
    comfyui_url: str | None = None
    comfyui_workflow: Path | None = None
    engine_memory_mb: int = Field(16384, ge=0)
    """Address-space limit (RLIMIT_AS) of each CPU engine process; 0 = none."""
    # text to speech (CSM): prompt recordings that fix conversational_a/b
    csm_voices_dir: Path | None = None
    """A folder of ``conversational_a.wav`` + ``conversational_a.txt`` (and ``_b``): the
    recording and its words that define each CSM voice; else ``<model>/prompts``."""
    # speech to text: models kept loaded per engine process (least recently used dropped)
    whisper_max_loaded: int = Field(2, ge=1, le=16)
    # speech to text: jobs one slot takes at once (1: one at a time), speech chunks per forward
    whisper_batch: int = Field(1, ge=1, le=32)
    whisper_batch_size: int = Field(8, ge=1, le=64)

    _split_lists = field_validator(
        "api_keys", "cors_origins", "fetch_allow", "webhook_allow", mode="before"
    )(split_commas)
    _split_maps = field_validator("engines", "whisper_models", mode="before")(split_pairs)

    @model_validator(mode="after")
    def _leases_fit_together(self) -> Settings:
        if self.liveness_seconds < 2 * self.heartbeat_seconds:
            raise ValueError(
                "C3_LIVENESS_SECONDS: must be at least twice C3_HEARTBEAT_SECONDS "
                f"({self.liveness_seconds:g} < 2 × {self.heartbeat_seconds:g}), or one late "
                "heartbeat would count a living worker as lost"
            )
        if self.reclaim_idle_seconds <= self.liveness_seconds:
            raise ValueError(
                "C3_RECLAIM_IDLE_SECONDS: must be longer than C3_LIVENESS_SECONDS "
                f"({self.reclaim_idle_seconds:g} <= {self.liveness_seconds:g})"
            )
        return self

    @property
    def redis_timeout(self) -> float:
        """Socket timeout of the workers' Redis calls: within the lease, so a hung call is
        noticed before the worker's jobs are taken over."""
        return max(2.0, min(5.0, self.liveness_seconds / 2))

    @cached_property
    def redis_dsn(self) -> str:
        """The Redis URL to connect to: C3_REDIS_URL/REDIS_URL, else REDIS_HOST:REDIS_PORT."""
        return self.redis_url or f"redis://{self.redis_host}:{self.redis_port}/0"

    @cached_property
    def redis_display(self) -> str:
        """``redis_dsn`` with any password replaced by ``***``, for logs and messages."""
        return redact_url(self.redis_dsn)

    @cached_property
    def key_names(self) -> dict[str, str]:
        """Each API key → its name: ``name:key`` entries give it, bare keys get ``key-<hash>``."""
        names: dict[str, str] = {}
        for entry in self.api_keys:
            name, sep, key = entry.partition(":")
            if not sep or not name.strip() or not key:
                key = entry
                name = "key-" + hashlib.sha256(entry.encode()).hexdigest()[:8]
            names[key] = name.strip()
        return names

    def secret_values(self) -> list[str]:
        """Every secret value in these settings (to keep them out of logs and tests' output)."""
        found = [self.flask_secret_key, self.webhook_secret, self.s3_secret_access_key,
                 self.s3_access_key_id, urlsplit(self.redis_dsn).password]
        found.extend(self.key_names)
        return [value for value in found if value]

    def link_base(self, request_base: str | None = None) -> str:
        """The base URL of every link we hand out (the one place that decides it).

        ``C3_PUBLIC_URL`` when set; else the URL the current request came in on; else,
        outside a request (webhooks), this API's own host and port.
        """
        if self.public_url:
            return self.public_url.rstrip("/")
        if request_base:
            return request_base.rstrip("/")
        host = "localhost" if self.api_host in ("0.0.0.0", "::", "") else self.api_host
        return f"http://{host}:{self.api_port}"

    @cached_property
    def secret_key(self) -> bytes:
        """HMAC key for signed links: FLASK_SECRET_KEY, else one generated once per data dir."""
        if self.flask_secret_key:
            return self.flask_secret_key.encode()
        path = self.data_dir / "secret_key"
        if not path.exists():
            create_secret_file(path)
        return path.read_text().strip().encode()


def require_strong_secret(settings: Settings) -> None:
    """Refuse to start on a known-weak FLASK_SECRET_KEY (unset is fine: one is generated)."""
    if settings.flask_secret_key is None:
        return
    reason = weak_secret_reason(settings.flask_secret_key)
    if reason:
        raise ConfigError(
            f"FLASK_SECRET_KEY {reason}: anyone could forge result links and webhook "
            f"signatures. Make one with: {MAKE_SECRET} (or unset it to use a key generated "
            "in C3_DATA_DIR)"
        )


def open_farm_warning(settings: Settings) -> str | None:
    """The warning for an API with no keys listening beyond loopback, or None."""
    if settings.api_keys or settings.api_host in ("127.0.0.1", "localhost", "::1"):
        return None
    return (
        f"WARNING: no API keys are configured and the API listens on {settings.api_host}: "
        "anyone who can reach it may submit jobs and read every result. Set C3_API_KEYS "
        "(name:key, comma-separated) before exposing the service."
    )


def short_key_names(settings: Settings) -> list[str]:
    """Names of configured API keys shorter than ``MIN_SECRET_LENGTH`` (guessable)."""
    return [name for key, name in settings.key_names.items() if len(key) < MIN_SECRET_LENGTH]


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment and ``.env``; raise ``ConfigError`` in one line."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_env_name(err['loc'])}: {err['msg']}" if err["loc"]
            else str(err["msg"]).removeprefix("Value error, ")
            for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None


def _env_name(loc: tuple[Any, ...]) -> str:
    name = str(loc[0]).lower() if loc else "?"
    contract = {"redis_host", "redis_port", "flask_secret_key", "api_host", "api_port"}
    if name in contract or name.startswith("c3_"):
        return name.upper()
    return f"C3_{name.upper()}"
