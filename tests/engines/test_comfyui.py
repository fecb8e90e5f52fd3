"""The ComfyUI /portrait engine against a real HTTP + WebSocket peer speaking ComfyUI's API."""

from __future__ import annotations

import email
import email.policy
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from websockets.datastructures import Headers
from websockets.http11 import Request
from websockets.server import ServerProtocol

from c3render.engines.base import EngineJob
from c3render.engines.portrait import create_engine
from c3render.engines.portrait.comfy_guard import PromptGuard
from c3render.engines.portrait.comfyui import (
    DEFAULT_WORKFLOW,
    ComfyUIPortraitEngine,
    fill_workflow,
    fit_size,
)
from c3render.errors import EngineUnavailable, JobError
from c3render.job import JobType
from c3render.media.audio import encode_audio
from c3render.media.video import Mp4Writer
from c3render.settings import Settings
from tests.support.servers import free_port

WORKFLOW = {
    "1": {"class_type": "LoadImage", "inputs": {"image": "{{image}}"}},
    "2": {"class_type": "LoadAudio", "inputs": {"audio": "{{audio}}"}},
    "3": {"class_type": "SONICSampler", "inputs": {"seed": "{{seed}}", "image": ["1", 0], "audio": ["2", 0]}},
    "4": {"class_type": "VHS_VideoCombine", "inputs": {"images": ["3", 0], "filename_prefix": "c3_{{job_id}}"}},
}


class ComfyPeer(http.server.ThreadingHTTPServer):
    """A ComfyUI look-alike: uploads, /prompt, /ws progress, /history, /view."""

    def __init__(self, video: bytes, mode: str = "ok") -> None:
        super().__init__(("127.0.0.1", 0), ComfyHandler)
        self.video, self.mode = video, mode
        self.uploads: dict[str, bytes] = {}
        self.prompts: list[dict[str, Any]] = []
        self.history: dict[str, Any] = {}
        self.sockets: dict[str, tuple[ServerProtocol, Any, threading.Lock]] = {}
        self.control: list[tuple[str, Any]] = []
        """POSTs to /interrupt, /queue and /history with their JSON bodies, in order."""

    def send(self, client_id: str, message: dict[str, Any]) -> None:
        protocol, connection, lock = self.sockets[client_id]
        with lock:
            protocol.send_text(json.dumps(message).encode())
            connection.sendall(b"".join(protocol.data_to_send()))

    def execute(self, client_id: str, prompt_id: str) -> None:
        """Play a run of the workflow over the WebSocket, then record its history."""
        self.send(client_id, {"type": "execution_start", "data": {"prompt_id": prompt_id}})
        if self.mode == "hang":
            return  # a long render: nothing more until someone interrupts it
        self.send(client_id, {"type": "executing", "data": {"node": "3", "prompt_id": prompt_id}})
        for step in range(1, 5):
            self.send(client_id, {"type": "progress", "data": {"value": step, "max": 4, "prompt_id": prompt_id, "node": "3"}})
        outputs: dict[str, Any] = {}
        if self.mode == "error":
            error = {"prompt_id": prompt_id, "node_id": "3", "node_type": "SONICSampler",
                     "exception_message": "CUDA out of memory", "exception_type": "RuntimeError"}
            self.send(client_id, {"type": "execution_error", "data": error})
            self.history[prompt_id] = {"outputs": {}, "status": {"status_str": "error", "completed": False,
                                                                  "messages": [["execution_error", error]]}}
            return
        if self.mode == "ok":
            outputs = {"4": {"gifs": [{"filename": "c3_out_00001.mp4", "subfolder": "sonic", "type": "output",
                                       "format": "video/h264-mp4"}]}}
        self.history[prompt_id] = {"outputs": outputs, "status": {"status_str": "success", "completed": True}}
        self.send(client_id, {"type": "executing", "data": {"node": None, "prompt_id": prompt_id}})
        self.send(client_id, {"type": "execution_success", "data": {"prompt_id": prompt_id}})


class ComfyHandler(http.server.BaseHTTPRequestHandler):
    """Request handler of :class:`ComfyPeer`."""

    server: ComfyPeer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _json(self, body: Any, status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/upload/image":
            head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
            message = email.message_from_bytes(head + body, policy=email.policy.HTTP)
            fields = {part.get_param("name", header="content-disposition"): part for part in message.iter_parts()}
            part = fields["image"]
            assert fields["type"].get_content().strip() == "input"
            self.server.uploads[part.get_filename()] = part.get_payload(decode=True)
            self._json({"name": part.get_filename(), "subfolder": "", "type": "input"})
        elif self.path == "/prompt":
            request = json.loads(body)
            self.server.prompts.append(request)
            prompt_id = str(uuid.uuid4())
            self._json({"prompt_id": prompt_id, "number": len(self.server.prompts), "node_errors": {}})
            threading.Thread(target=self._later, args=(request["client_id"], prompt_id)).start()
        elif self.path in ("/interrupt", "/queue", "/history"):
            self.server.control.append((self.path, json.loads(body) if body else None))
            self._json({})
        else:
            self._json({"error": "not found"}, 404)

    def _later(self, client_id: str, prompt_id: str) -> None:
        time.sleep(0.05)
        self.server.execute(client_id, prompt_id)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        if url.path == "/ws":
            self._websocket(query["clientId"])
        elif url.path.startswith("/history/"):
            prompt_id = url.path.rsplit("/", 1)[1]
            entry = self.server.history.get(prompt_id)
            self._json({prompt_id: entry} if entry else {})
        elif url.path == "/view" and query == {"filename": "c3_out_00001.mp4", "subfolder": "sonic", "type": "output"}:
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(len(self.server.video)))
            self.end_headers()
            self.wfile.write(self.server.video)
        else:
            self._json({"error": "not found"}, 404)

    def _websocket(self, client_id: str) -> None:
        protocol = ServerProtocol()
        response = protocol.accept(Request(self.path, Headers(self.headers.items())))
        protocol.send_response(response)
        self.connection.sendall(b"".join(protocol.data_to_send()))
        lock = threading.Lock()
        self.server.sockets[client_id] = (protocol, self.connection, lock)
        self.server.send(client_id, {"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 0}}, "sid": client_id}})
        while True:
            data = self.connection.recv(4096)
            if not data:
                break
            with lock:
                protocol.receive_data(data)
                self.connection.sendall(b"".join(protocol.data_to_send()))
            if protocol.close_expected():
                break
        self.close_connection = True


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A small real H.264/AAC MP4, as the workflow's output (1 s, 64×64)."""
    path = tmp_path_factory.mktemp("video") / "out.mp4"
    with Mp4Writer(path, (64, 64), 25, np.zeros(48000, dtype=np.float32)) as writer:
        for index in range(25):
            writer.write(np.full((64, 64, 3), index * 10, dtype=np.uint8))
    return path.read_bytes()


def peer(video: bytes, mode: str) -> Iterator[ComfyPeer]:
    server = ComfyPeer(video, mode)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def comfy(video: bytes, request: pytest.FixtureRequest) -> Iterator[ComfyPeer]:
    yield from peer(video, getattr(request, "param", "ok"))


def make_engine(tmp_path: Path, url: str, workflow: Any = WORKFLOW) -> ComfyUIPortraitEngine:
    path = tmp_path / "workflow.json"
    path.write_text(json.dumps(workflow))
    engine = create_engine(Settings(portrait_engine="comfyui", comfyui_url=url, comfyui_workflow=path))
    assert isinstance(engine, ComfyUIPortraitEngine)
    engine.load()
    return engine


def make_job(tmp_path: Path, reports: list[float] | None = None) -> EngineJob:
    """A 1600×1200 portrait and 2.2 s of stereo-free speech-like sound as an MP3."""
    from PIL import Image

    Image.new("RGB", (1600, 1200), (200, 150, 120)).save(tmp_path / "in.png")
    tone = 0.3 * np.sin(np.arange(int(2.2 * 16000)) * 2 * np.pi * 220 / 16000)
    encode_audio(tone.astype(np.float32), 16000, tmp_path / "in.mp3", "mp3")
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    job = EngineJob("job-9", JobType.PORTRAIT, {}, {"image_url": tmp_path / "in.png", "audio_url": tmp_path / "in.mp3"}, work)
    if reports is not None:
        job.progress = reports.append
    return job


def test_runs_the_workflow_and_downloads_the_video(comfy: ComfyPeer, tmp_path: Path, video: bytes) -> None:
    engine = make_engine(tmp_path, f"http://127.0.0.1:{comfy.server_address[1]}")
    reports: list[float] = []
    result = engine.run(make_job(tmp_path, reports))
    assert result.file is not None and result.file.read_bytes() == video
    assert result.media_type == "video/mp4"
    assert result.extra["frames"] == 25 and result.extra["width"] == 64
    assert set(comfy.uploads) == {"c3_job-9_image.png", "c3_job-9_audio.wav"}
    assert comfy.uploads["c3_job-9_image.png"] == (tmp_path / "in.png").read_bytes()
    deadline = time.monotonic() + 10
    while not comfy.control and time.monotonic() < deadline:
        time.sleep(0.05)
    assert comfy.control == [("/history", {"delete": [_prompt_id(comfy)]})]  # no interrupt
    sent = comfy.prompts[0]
    assert sent["client_id"] in comfy.sockets
    nodes = sent["prompt"]
    assert nodes["1"]["inputs"]["image"] == "c3_job-9_image.png"
    assert nodes["2"]["inputs"]["audio"] == "c3_job-9_audio.wav"
    assert isinstance(nodes["3"]["inputs"]["seed"], int)
    assert nodes["4"]["inputs"]["filename_prefix"] == "c3_job-9"
    assert reports == sorted(reports) and len(reports) >= 5 and reports[-1] == 1.0


@pytest.mark.parametrize("comfy", ["error"], indirect=True)
def test_execution_error_fails_the_job_with_its_message(comfy: ComfyPeer, tmp_path: Path) -> None:
    engine = make_engine(tmp_path, f"http://127.0.0.1:{comfy.server_address[1]}")
    with pytest.raises(JobError, match="SONICSampler: CUDA out of memory"):
        engine.run(make_job(tmp_path))


@pytest.mark.parametrize("comfy", ["empty"], indirect=True)
def test_workflow_without_video_output_fails(comfy: ComfyPeer, tmp_path: Path) -> None:
    engine = make_engine(tmp_path, f"http://127.0.0.1:{comfy.server_address[1]}")
    with pytest.raises(JobError, match="without a video output"):
        engine.run(make_job(tmp_path))


def test_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    engine = make_engine(tmp_path, f"http://127.0.0.1:{free_port()}")
    with pytest.raises(JobError, match="cannot be reached"):
        engine.run(make_job(tmp_path))


def test_missing_settings_and_bad_workflows_are_refused(tmp_path: Path) -> None:
    with pytest.raises(EngineUnavailable, match="C3_COMFYUI_URL"):
        create_engine(Settings(portrait_engine="comfyui"))
    with pytest.raises(EngineUnavailable, match="API format"):
        make_engine(tmp_path, "http://127.0.0.1:1", {"nodes": [], "links": []})
    no_audio = {"1": {"class_type": "LoadImage", "inputs": {"image": "{{image}}"}}}
    with pytest.raises(EngineUnavailable, match=r"\{\{audio\}\}"):
        make_engine(tmp_path, "http://127.0.0.1:1", no_audio)


def test_fill_workflow_keeps_links_and_numbers() -> None:
    filled = fill_workflow(WORKFLOW, {"image": "a.png", "audio": "b.wav", "seed": 5, "job_id": "j"})
    assert filled["3"]["inputs"] == {"seed": 5, "image": ["1", 0], "audio": ["2", 0]}
    assert WORKFLOW["1"]["inputs"]["image"] == "{{image}}"


def _prompt_id(comfy: ComfyPeer) -> str:
    return next(iter(comfy.history))


def test_default_sonic_workflow_is_filled_as_the_original_did(comfy: ComfyPeer, tmp_path: Path) -> None:
    engine = create_engine(Settings(portrait_engine="comfyui", comfyui_url=f"http://127.0.0.1:{comfy.server_address[1]}"))
    assert isinstance(engine, ComfyUIPortraitEngine) and engine.workflow_path == DEFAULT_WORKFLOW
    engine.run(make_job(tmp_path))
    nodes = comfy.prompts[0]["prompt"]
    assert {node["class_type"] for node in nodes.values()} == {
        "LoadImage", "LoadAudio", "ImageResize+", "ImageOnlyCheckpointLoader", "SONICTLoader",
        "SONIC_PreData", "SONICSampler", "VHS_VideoCombine"}
    assert nodes["18"]["inputs"]["image"] == "c3_job-9_image.png"
    assert nodes["26"]["inputs"]["audio"] == "c3_job-9_audio.wav"
    assert (nodes["58"]["inputs"]["width"], nodes["58"]["inputs"]["height"]) == (960, 720)
    assert nodes["33"]["inputs"]["duration"] == 6  # ceil(2.2 s) + 3
    assert nodes["13"]["inputs"]["filename_prefix"] == "Video_job-9"
    assert nodes["33"]["inputs"]["image"] == ["58", 0] and nodes["31"]["inputs"]["seed"] == 2054408119
    with _wav(comfy.uploads["c3_job-9_audio.wav"], tmp_path) as sent:
        assert sent.getnchannels() == 1 and 2.1 < sent.getnframes() / sent.getframerate() < 2.4


def _wav(data: bytes, tmp_path: Path) -> wave.Wave_read:
    (tmp_path / "sent.wav").write_bytes(data)
    return wave.open(str(tmp_path / "sent.wav"), "rb")


def test_fit_size_keeps_the_shape_inside_1280x720() -> None:
    assert fit_size(1600, 1200) == (960, 720)
    assert fit_size(3000, 1000) == (1280, 426)
    assert fit_size(512, 600) == (512, 600)  # never enlarged
    assert fit_size(1080, 1920) == (404, 720)


KILLED_RUN = """
import sys
from pathlib import Path
from tests.engines.test_comfyui import make_job
from c3render.engines.portrait.comfyui import ComfyUIPortraitEngine
engine = ComfyUIPortraitEngine(sys.argv[1])
engine.run(make_job(Path(sys.argv[2])))
"""


@pytest.mark.parametrize("comfy", ["hang"], indirect=True)
def test_killed_engine_process_stops_its_prompt_on_the_server(comfy: ComfyPeer, tmp_path: Path) -> None:
    """Cancel and timeout SIGKILL the engine process: its guard still stops the prompt."""
    url = f"http://127.0.0.1:{comfy.server_address[1]}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path.cwd() / "src"), str(Path.cwd())])}
    child = subprocess.Popen([sys.executable, "-c", KILLED_RUN, url, str(tmp_path)], env=env)
    deadline = time.monotonic() + 60
    while not comfy.history and not comfy.prompts and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # the prompt is queued and watched
    assert comfy.prompts and child.poll() is None
    child.send_signal(signal.SIGKILL)
    child.wait()
    deadline = time.monotonic() + 20
    while len(comfy.control) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    paths = [path for path, _ in comfy.control]
    assert paths == ["/queue", "/interrupt", "/history"]
    prompt_id = comfy.control[1][1]["prompt_id"]
    assert comfy.control[0][1] == {"delete": [prompt_id]} and comfy.control[2][1] == {"delete": [prompt_id]}


def _ignores_sigterm(pid: int) -> bool:
    """Whether process ``pid`` has SIGTERM ignored (its SigIgn mask in /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    return False


def test_the_guard_of_an_engine_that_ignores_sigterm_still_ends_on_sigterm() -> None:
    # engine processes ignore SIGTERM (worker/engine_process.py) and children inherit that
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        guard = PromptGuard("http://127.0.0.1:9")
    finally:
        signal.signal(signal.SIGTERM, previous)
    deadline = time.monotonic() + 30
    while _ignores_sigterm(guard.process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)  # until its interpreter is up and has taken the default back
    guard.process.send_signal(signal.SIGTERM)
    assert guard.process.wait(timeout=10) == -signal.SIGTERM
