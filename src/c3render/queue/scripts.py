"""The Lua scripts behind every change of a job, loaded with their shared library.

Each script in ``lua/`` is registered with ``lua/lib.lua`` and ``lua/fair.lua`` (the ready
jobs of fair share) in front of it, so "end a job"
and "drop a stream entry" are written once and every script stays a single EVAL (no
``FUNCTION LOAD`` to repeat on each node of a cluster). redis-py sends EVALSHA and
reloads a script by itself when a server does not know it.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from redis.commands.core import Script

from c3render.queue.connection import RedisClient

LIBRARIES = ("lib.lua", "fair.lua")
"""Put in front of every script, in this order."""


@cache
def source(name: str) -> str:
    """The full source of script ``name``: the libraries, then the script itself."""
    folder = resources.files("c3render.queue").joinpath("lua")
    library = "\n".join(folder.joinpath(part).read_text() for part in LIBRARIES)
    return library + "\n" + folder.joinpath(f"{name}.lua").read_text()


class Scripts:
    """Every script of the job store, registered on one client."""

    def __init__(self, client: RedisClient) -> None:
        def load(name: str) -> Script:
            return client.register_script(source(name))

        self.submit = load("submit")
        self.start = load("start")
        self.heartbeat = load("heartbeat")
        self.progress = load("progress")
        self.log = load("log")
        self.finish = load("finish")
        self.retry = load("retry")
        self.promote = load("promote")
        self.release = load("release")
        self.requeue = load("requeue")
        self.end = load("end")
        self.resubmit = load("resubmit")
        self.position = load("position")
        self.restore = load("restore")
        self.take = load("take")
        self.migrate = load("migrate")
        self.link = load("link")
        self.resolve = load("resolve")
