"""The Lua scripts behind every change of a job, loaded with their shared library.

Each script in ``lua/`` is registered with ``lua/lib.lua`` in front of it, so "end a job"
and "drop a stream entry" are written once and every script stays a single EVAL (no
``FUNCTION LOAD`` to repeat on each node of a cluster). redis-py sends EVALSHA and
reloads a script by itself when a server does not know it.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import redis
from redis.commands.core import Script


@cache
def source(name: str) -> str:
    """The full source of script ``name``: the library, then the script itself."""
    folder = resources.files("c3render.queue").joinpath("lua")
    library = folder.joinpath("lib.lua").read_text()
    return library + "\n" + folder.joinpath(f"{name}.lua").read_text()


class Scripts:
    """Every script of the job store, registered on one client."""

    def __init__(self, client: redis.Redis) -> None:
        def load(name: str) -> Script:
            return client.register_script(source(name))

        self.submit = load("submit")
        self.start = load("start")
        self.finish = load("finish")
        self.release = load("release")
        self.end = load("end")
        self.requeue = load("requeue")
        self.progress = load("progress")
        self.position = load("position")
