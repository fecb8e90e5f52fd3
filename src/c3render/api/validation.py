"""Reading request bodies: JSON straight from the raw body into pydantic, errors naming fields."""

from __future__ import annotations

from typing import TypeVar

from flask import request
from pydantic import BaseModel, ValidationError

from c3render.api.services import services
from c3render.errors import PayloadTooLarge, RequestError

ModelT = TypeVar("ModelT", bound=BaseModel)


def read_json_body() -> bytes:
    """The raw JSON body, after checking its content type and size."""
    mimetype = request.environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise RequestError(
            f"Content-Type must be application/json (got {mimetype or 'none'})", "body"
        )
    limit = services().settings.max_request_bytes
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
    return body


def parse(model: type[ModelT], body: bytes) -> ModelT:
    """Validate ``body`` as ``model``; raise ``RequestError`` naming the first bad field."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise describe(exc) from None


def describe(exc: ValidationError) -> RequestError:
    """Turn pydantic's first error into one sentence that names the field."""
    error = exc.errors(include_url=False)[0]
    kind = error["type"]
    if kind == "json_invalid":
        return RequestError(f"the body is not valid JSON: {error['msg']}", "body")
    if kind == "model_type" or not error["loc"] and kind != "value_error":
        return RequestError("the body must be a JSON object", "body")
    message = str(error["msg"]).removeprefix("Value error, ")
    field = ".".join(str(part) for part in error["loc"] if not isinstance(part, int))
    if not field and ":" in message:
        field, _, message = message.partition(":")
        message = message.strip()
    if kind == "missing":
        message = "is required"
    elif kind == "literal_error":
        message = message.replace("Input should be", "must be one of")
    else:
        message = message.replace("Input should be", "must be")
    return RequestError(f"{field}: {message}", field or "body")
