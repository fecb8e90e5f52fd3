"""Parsing of list and map settings written as one environment variable."""

from __future__ import annotations

from typing import Any


def split_commas(value: Any) -> Any:
    """``"a, b"`` → ``["a", "b"]`` (other values unchanged)."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def split_pairs(value: Any) -> Any:
    """``"a=x,b=y"`` → ``{"a": "x", "b": "y"}``."""
    if isinstance(value, str):
        pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
        if any(len(pair) != 2 for pair in pairs):
            raise ValueError("expected name=value pairs separated by commas")
        return {name.strip(): target.strip() for name, target in pairs}
    return value
