"""One error hierarchy for the whole service.

Every error a client or a job can see derives from :class:`C3Error`; the API maps
``http_status`` to the response in one handler, and workers store ``str(error)`` as
the job's ``error`` field. Messages are written for people: they name the field or
the input that is wrong.
"""

from __future__ import annotations


class C3Error(Exception):
    """Base class of every error this service raises on purpose."""

    http_status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(C3Error):
    """A setting is missing or invalid; start-up stops with this one line."""


class RequestError(C3Error):
    """The client sent something we cannot accept (HTTP 400)."""

    http_status = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Unauthorized(C3Error):
    """A required API key is missing or wrong (HTTP 401)."""

    http_status = 401


class Forbidden(C3Error):
    """A signed link is tampered with or expired (HTTP 403)."""

    http_status = 403


class NotFound(C3Error):
    """No such job or file (HTTP 404)."""

    http_status = 404


class Conflict(C3Error):
    """The request conflicts with the job's state, e.g. cancelling a finished job (HTTP 409)."""

    http_status = 409


class PayloadTooLarge(C3Error):
    """The request body is over the configured limit (HTTP 413)."""

    http_status = 413


class TooManyRequests(C3Error):
    """The request is refused for now (a full queue, a rate limit); retry after ``retry_after``
    seconds (HTTP 429 with a Retry-After header)."""

    http_status = 429

    def __init__(self, message: str, retry_after: float = 5) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after + 0.999))


class ServiceUnavailable(C3Error):
    """Redis or storage cannot be reached (HTTP 503)."""

    http_status = 503


class JobError(C3Error):
    """A job cannot be completed; the message becomes the job's ``error``.

    ``error_type`` is shown on the status document; ``retryable`` errors are retried with
    backoff (up to ``C3_MAX_RETRIES``) because they may not happen again.
    """

    http_status = 422
    error_type = "engine"
    retryable = False


class InputError(JobError):
    """An input of the job (URL, file) is unreachable, too large, or not what it should be."""

    error_type = "input"


class InputUnavailable(InputError):
    """An input's host did not answer usefully for now (5xx, 429, a timeout, a refused or
    broken connection): the same request may work later."""

    retryable = True


class EngineUnavailable(JobError):
    """No engine is installed or configured for a job type; the message says what to do."""

    error_type = "unavailable"


class EngineCrashed(JobError):
    """The engine process died while running a job (out of memory, a segfault)."""

    retryable = True


class RunStopped(C3Error):
    """Raised in an engine process by the job's progress report after the slot asked the
    run to stop (``StopRun``): the engine unwinds, keeping its models loaded."""


class TransientError(JobError):
    """A passing fault in the engine or a server it uses (GPU out of memory, ComfyUI away)."""

    error_type = "transient"
    retryable = True
