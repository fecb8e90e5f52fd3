"""The Lua scripts behind every change of a job, loaded with their shared library.

Each script in ``lua/`` is registered with ``lua/lib.lua`` and ``lua/fair.lua`` (the ready
jobs of fair share) in front of it, so "end a job"
and "drop a stream entry" are written once and every script stays a single EVAL (no
``FUNCTION LOAD`` to repeat on each node of a cluster). redis-py sends EVALSHA and
reloads a script by itself when a server does not know it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from redis.cluster import RedisCluster
from redis.commands.core import Script
from redis.exceptions import NoScriptError, ResponseError

from c3render.queue.connection import RedisClient

LIBRARIES = ("lib.lua", "fair.lua")
"""Put in front of every script, in this order."""


@cache
def source(name: str) -> str:
    """The full source of script ``name``: the libraries, then the script itself."""
    folder = resources.files("c3render.queue").joinpath("lua")
    library = "\n".join(folder.joinpath(part).read_text() for part in LIBRARIES)
    return library + "\n" + folder.joinpath(f"{name}.lua").read_text()


@dataclass(frozen=True)
class ScriptCall:
    """One script with its keys and arguments, to run alone or with others (``together``)."""

    script: Script
    keys: list[str]
    args: list[Any] = field(default_factory=list)

    def __call__(self) -> Any:
        """Run it on its own (redis-py loads the script first if the server lacks it)."""
        return self.script(keys=self.keys, args=self.args)


def together(client: RedisClient, calls: list[ScriptCall]) -> list[Any]:
    """Run ``calls`` in order in one round trip: a pipeline without a transaction, so each
    script is still atomic on its own and the next one runs even when one fails.

    Returns one reply per call; a call that failed gives its exception instead, for the
    caller to raise once it has used the other replies (a script a restarted server does
    not know yet is loaded and run again on its own first). A lost connection raises.
    redis-py pipelines no script on a Redis Cluster: there the calls run one after another.
    """
    if isinstance(client, RedisCluster):
        return [_alone(call) for call in calls]
    pipe = client.pipeline(transaction=False)
    for call in calls:
        pipe.evalsha(call.script.sha, len(call.keys), *call.keys, *call.args)
    replies = pipe.execute(raise_on_error=False)
    return [_alone(call) if isinstance(reply, NoScriptError) else reply
            for call, reply in zip(calls, replies)]


def _alone(call: ScriptCall) -> Any:
    """``call`` run on its own; its error (a script's) returned rather than raised."""
    try:
        return call()
    except ResponseError as exc:
        return exc


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
