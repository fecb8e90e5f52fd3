"""Chained jobs (``"audio_url": "job:<id>"``) through the API and a real worker process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
import redis
from flask.testing import FlaskClient

from c3render.job import JobStatus, JobType
from c3render.queue import keys
from c3render.queue.leases import Leases
from c3render.queue.store import JobStore
from c3render.settings import load_settings
from c3render.storage import create_storage
from tests.support.media import wav_bytes
from tests.support.service import wait_until, worker_process

ENGINES = ",".join(f"{name}=tests.fixtures.engines:scripted_{name}"
                   for name in ("csm", "whisper", "portrait", "analyze"))
TYPES = "csm,whisper,portrait,analyze"


@pytest.fixture
def chain_env(worker_env: dict[str, str]) -> dict[str, str]:
    """A worker environment with scripted engines for every job type."""
    return dict(worker_env, C3_ENGINES=ENGINES)


@pytest.fixture
def chain_worker(chain_env: dict[str, str], tmp_path: Path) -> Iterator[object]:
    """One worker serving every job type with the scripted engines."""
    with worker_process(chain_env, types=TYPES, log=tmp_path / "worker.log") as process:
        yield process


def _status(client: FlaskClient, job_id: str) -> dict:
    return client.get(f"/status/{job_id}").get_json()  # type: ignore[no-any-return]


def _wait(client: FlaskClient, job_id: str, wanted: str, timeout: float = 30) -> dict:
    def reached() -> dict | None:
        doc = _status(client, job_id)
        return doc if doc["status"] == wanted else None

    return wait_until(reached, timeout)  # type: ignore[return-value]


def _submit(client: FlaskClient, path: str, body: dict) -> str:
    response = client.post(path, json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["id"]  # type: ignore[no-any-return]


def _runs(env: dict[str, str], job_id: str, kind: str = "done") -> int:
    log = Path(env["C3_DATA_DIR"]) / "runs.log"
    return log.read_text().count(f"{kind} {job_id}") if log.exists() else 0


def test_a_chain_waits_then_reads_its_parents_output(
    client: FlaskClient, chain_worker: object
) -> None:
    speech = _submit(client, "/csm", {"text": "sleep:1.5"})
    heard = _submit(client, "/whisper", {"audio_url": f"job:{speech}"})
    waiting = _status(client, heard)
    assert waiting["status"] == "queued" and waiting["waiting_for"] == [speech]
    assert "queue_position" not in waiting  # not on its stream yet
    assert _wait(client, heard, "success")["progress"] == 1
    assert client.get(f"/result/{heard}").get_json()["text"] == "heard 0.10 s"
    # a parent that already succeeded: the next job is queued at once
    again = _submit(client, "/whisper", {"audio_url": f"job:{speech}#result"})
    assert "waiting_for" not in _status(client, again)
    assert client.get(f"/result/{_wait(client, again, 'success')['id']}").get_json()["text"] \
        == "heard 0.10 s"


def test_parent_failure_or_cancel_fails_the_waiting_job(
    client: FlaskClient, chain_env: dict[str, str], tmp_path: Path
) -> None:
    failing = _submit(client, "/csm", {"text": "fail:the voice is hoarse"})
    cancelled = _submit(client, "/csm", {"text": "sleep:30"})
    child_of_failing = _submit(client, "/whisper", {"audio_url": f"job:{failing}"})
    child_of_cancelled = _submit(client, "/csm", {  # a voice cloned from the parent's speech
        "text": "ok", "voice": "clone", "reference_audio_url": f"job:{cancelled}",
        "reference_text": "the words"})
    grandchild = _submit(client, "/whisper", {"audio_url": f"job:{child_of_cancelled}"})

    client.post(f"/job/{cancelled}", json={"status": "cancelled"})  # no worker yet
    doc = _status(client, child_of_cancelled)
    assert doc["status"] == "failed" and cancelled in doc["error"] and "cancelled" in doc["error"]
    assert doc["error"].startswith("reference_audio_url:")
    doc = _status(client, grandchild)  # the failure travels down the chain
    assert doc["status"] == "failed" and child_of_cancelled in doc["error"]

    with worker_process(chain_env, types=TYPES, log=tmp_path / "w.log"):
        doc = _wait(client, child_of_failing, "failed")
    assert failing in doc["error"] and "the voice is hoarse" in doc["error"]
    assert _runs(chain_env, child_of_failing, "start") == 0


def test_references_that_cannot_be_honoured_answer_400(
    client: FlaskClient, chain_worker: object
) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    response = client.post("/whisper", json={"audio_url": f"job:{unknown}"})
    assert response.status_code == 400 and response.get_json()["error"].startswith("audio_url:")
    assert unknown in response.get_json()["error"]

    speech = _submit(client, "/csm", {"text": "ok"})
    wrong_type = client.post("/analyze", json={"image_url": f"job:{speech}"})
    assert wrong_type.status_code == 400
    assert "image_url" in wrong_type.get_json()["error"] and "audio" in wrong_type.get_json()["error"]
    text_job = _submit(client, "/whisper", {"audio_url": f"job:{speech}"})
    no_file = client.post("/whisper", json={"audio_url": f"job:{text_job}"})
    assert no_file.status_code == 400 and "no result output" in no_file.get_json()["error"]
    no_speech = client.post("/whisper", json={"audio_url": f"job:{speech}#speech"})
    assert no_speech.status_code == 400 and "speech" in no_speech.get_json()["error"]
    malformed = client.post("/whisper", json={"audio_url": "job:not-an-id"})
    assert malformed.status_code == 400 and malformed.get_json()["error"].startswith("audio_url:")

    failed = _submit(client, "/csm", {"text": "fail:no"})
    _wait(client, failed, "failed")
    late = client.post("/whisper", json={"audio_url": f"job:{failed}"})
    assert late.status_code == 400 and "already ended failed" in late.get_json()["error"]


def test_cancelling_a_waiting_job(client: FlaskClient, chain_worker: object,
                                  chain_env: dict[str, str]) -> None:
    speech = _submit(client, "/csm", {"text": "sleep:1"})
    heard = _submit(client, "/whisper", {"audio_url": f"job:{speech}"})
    assert client.post(f"/job/{heard}", json={"status": "cancelled"}).status_code == 200
    _wait(client, speech, "success")
    assert _status(client, heard)["status"] == "cancelled"
    assert _runs(chain_env, heard, "start") == 0


def test_housekeeping_wakes_a_child_when_the_finishing_worker_died(
    client: FlaskClient, chain_env: dict[str, str], redis_client: redis.Redis, tmp_path: Path
) -> None:
    speech = _submit(client, "/csm", {"text": "ok"})
    heard = _submit(client, "/whisper", {"audio_url": f"job:{speech}"})
    # play a worker that runs the parent and dies right after its finish script, before the
    # wake-up step (the same scripts a worker runs, without what follows them)
    settings = load_settings()
    leases = Leases(redis_client, settings)
    entry = redis_client.hget(keys.job(JobType.CSM, speech), "entry")
    claim = leases.start(JobType.CSM, speech, entry, "doomed-worker")
    assert claim is not None
    key = f"results/{speech}/{claim.run}/speech.wav"
    wav = tmp_path / "speech.wav"
    wav.write_bytes(wav_bytes(0.25))
    create_storage(settings).put_file(key, wav, "audio/wav")
    job = claim.job
    recorded = leases.scripts.finish(
        keys=[keys.job(job.type, job.id), keys.queue(job.type), keys.outbox(job.type),
              keys.events(job.type, job.id), keys.stats(job.type), keys.eta_samples(job.type)],
        args=[job.id, claim.entry, claim.run, JobStatus.SUCCESS.value,
              json.dumps({"file_key": key, "media_type": "audio/wav"}), "",
              settings.retention_seconds, keys.GROUP, "", "", keys.ETA_SAMPLES],
    )
    assert recorded == 2  # the wake-up is recorded under the parent's slot
    assert redis_client.zscore(keys.wakeups(JobType.CSM), speech) is not None
    assert _status(client, heard)["waiting_for"] == [speech]
    with worker_process(chain_env, types="whisper", log=tmp_path / "rescuer.log"):
        _wait(client, heard, "success", timeout=20)
    assert client.get(f"/result/{heard}").get_json()["text"] == "heard 0.25 s"
    assert redis_client.zscore(keys.wakeups(JobType.CSM), speech) is None


def test_portrait_from_text_is_two_linked_jobs_with_one_id(
    client: FlaskClient, chain_worker: object, chain_env: dict[str, str],
    http_image_url: str, tmp_path: Path,
) -> None:
    portrait = _submit(client, "/portrait", {"image_url": http_image_url, "text": "videofailonce",
                                             "voice": "conversational_b"})
    doc = _status(client, portrait)
    speech = doc["stages"]["speech"]["id"]
    assert doc["stage"] in ("speech", "video")
    failed = _wait(client, portrait, "failed")  # the video stage fails once (scripted)
    assert failed["stage"] == "video" and failed["stages"]["speech"]["status"] == "success"
    retried = client.post(f"/job/{portrait}/retry").get_json()
    assert retried["status"] in ("queued", "running")  # a worker may take it at once
    done = _wait(client, portrait, "success")
    assert done["stage"] == "video" and done["stages"]["video"]["status"] == "success"
    assert _runs(chain_env, speech) == 1  # the retry resumed from the finished speech stage
    result = client.get(f"/result/{portrait}").get_json()
    video = client.get(result["result_url"].split("localhost", 1)[1])
    assert video.status_code == 200 and video.mimetype == "video/mp4"
    (tmp_path / "talk.mp4").write_bytes(video.data)
    with av.open(str(tmp_path / "talk.mp4")) as container:
        assert {stream.type for stream in container.streams} == {"video", "audio"}
    spoken = client.get(result["speech_url"].split("localhost", 1)[1])
    assert spoken.status_code == 200 and spoken.data[:4] == b"RIFF"
    # the speech is an output other jobs can read
    heard = _submit(client, "/whisper", {"audio_url": f"job:{portrait}#speech"})
    assert client.get(f"/result/{_wait(client, heard, 'success')['id']}").get_json()["text"] \
        == "heard 0.10 s"


def test_portrait_retry_after_its_speech_failed_renders_the_speech_again(
    client: FlaskClient, chain_worker: object, chain_env: dict[str, str], http_image_url: str,
) -> None:
    portrait = _submit(client, "/portrait", {"image_url": http_image_url, "text": "failonce"})
    failed = _wait(client, portrait, "failed")
    speech = failed["stages"]["speech"]["id"]
    assert failed["stage"] == "speech" and speech in failed["error"]
    assert "scripted failure, once" in failed["error"]
    assert client.post(f"/job/{portrait}/retry").status_code == 200
    assert _wait(client, portrait, "success")["stages"]["speech"]["status"] == "success"
    assert (_runs(chain_env, speech, "start"), _runs(chain_env, speech)) == (2, 1)


def test_cancelling_a_portrait_from_text_cancels_its_speech(
    client: FlaskClient, http_image_url: str
) -> None:
    portrait = _submit(client, "/portrait", {"image_url": http_image_url, "text": "sleep:30"})
    speech = _status(client, portrait)["stages"]["speech"]["id"]
    client.post(f"/job/{portrait}", json={"status": "cancelled"})
    assert _status(client, portrait)["status"] == "cancelled"
    assert _status(client, speech)["status"] == "cancelled"


def test_portrait_takes_exactly_one_of_audio_url_or_text(client: FlaskClient) -> None:
    for body in ({"image_url": "https://example.org/a.png"},
                 {"image_url": "https://example.org/a.png", "text": "hi",
                  "audio_url": "https://example.org/a.mp3"}):
        response = client.post("/portrait", json=body)
        assert response.status_code == 400
        assert response.get_json()["error"].startswith("audio_url:")
    clone = client.post("/portrait", json={"image_url": "https://example.org/a.png",
                                           "text": "hi", "voice": "clone"})
    assert clone.status_code == 400 and "reference_audio_url" in clone.get_json()["error"]


def test_a_child_whose_link_was_lost_is_resolved_by_the_recheck(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    speech = _submit(client, "/csm", {"text": "sleep:30"})
    heard = _submit(client, "/whisper", {"audio_url": f"job:{speech}"})
    # the API died between storing the child and linking it: the parent never knew
    redis_client.hdel(keys.job(JobType.CSM, speech), "dependants")
    client.post(f"/job/{speech}", json={"status": "cancelled"})
    assert _status(client, heard)["status"] == "queued"
    store = JobStore(redis_client, load_settings())
    assert store.chains.sweep() == 0  # not due yet (re-checked every 30 s)
    redis_client.zadd(keys.waiting(JobType.WHISPER), {heard: 0})
    assert store.chains.sweep() == 1
    doc = _status(client, heard)
    assert doc["status"] == "failed" and speech in doc["error"] and "cancelled" in doc["error"]
    assert redis_client.zscore(keys.waiting(JobType.WHISPER), heard) is None
