"""The Python client: the API key goes to the API only."""

from __future__ import annotations

from pathlib import Path

from c3render.cli.client import Client
from tests.support.http_peers import http_peer, respond


def test_the_api_key_is_not_sent_where_a_result_link_points(tmp_path: Path) -> None:
    with http_peer() as api, http_peer() as bucket:
        for peer in (api, bucket):
            peer.route("/file.mp3", lambda handler: respond(handler, 200, b"ID3 data"))
        client = Client(api.url(""), api_key="secret-key")
        client.download(bucket.url("/file.mp3"), tmp_path / "a.mp3")
        client.download(api.url("/file.mp3"), tmp_path / "b.mp3")
    assert (tmp_path / "a.mp3").read_bytes() == b"ID3 data"
    sent_to_bucket = {name.lower() for name in bucket.requests_to("/file.mp3")[0].headers}
    sent_to_api = {name.lower() for name in api.requests_to("/file.mp3")[0].headers}
    assert "x-c3-render-key" not in sent_to_bucket
    assert "x-c3-render-key" in sent_to_api


def test_the_watch_line_gives_the_queue_position_and_the_eta_while_queued() -> None:
    from c3render.cli.events import JobEvent, JobView
    from c3render.cli.watch import describe

    view = JobView("j")
    view.update(JobEvent(None, "queue", {"status": "queued", "queue_position": 3,
                                         "eta": {"start_in_s": 12.4, "finish_in_s": 20.0}}))
    assert describe(view) == "queued, 3 jobs ahead, starts in ~12 s"
    view.update(JobEvent(None, "queue", {"status": "queued", "queue_position": 1, "eta": None,
                                         "eta_reason": "no live worker"}))
    assert describe(view) == "queued, 1 job ahead"
    view.update(JobEvent("1-0", "status", {"status": "running"}))
    assert view.queue_position is None and view.starts_in_s is None
