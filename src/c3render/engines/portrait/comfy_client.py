"""A small client for ComfyUI's HTTP + WebSocket API (upload, prompt, progress, history, view).

Protocol as served by ComfyUI's ``server.py``: files go to ``POST /upload/image`` (any
file; ``type=input`` puts it in the input folder), a workflow in API format to
``POST /prompt`` with a ``client_id``; the WebSocket ``/ws?clientId=...`` then reports
``executing`` / ``progress`` / ``execution_error`` / ``execution_success`` for that
prompt, and ``GET /history/{id}`` lists the outputs, fetched with ``GET /view``.
"""

from __future__ import annotations

import json
import mimetypes
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import websocket

from c3render.errors import JobError, TransientError

#: Seconds without a WebSocket message before the history is polled instead.
IDLE_POLL_SECONDS = 30.0
HTTP_TIMEOUT = (10.0, 120.0)


class ComfyClient:
    """Talks to one ComfyUI server on behalf of one job."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = uuid.uuid4().hex
        self.session = requests.Session()

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            response = self.session.request(
                method, self.base_url + path, timeout=HTTP_TIMEOUT, **kwargs
            )
        except requests.RequestException as exc:
            raise TransientError(f"ComfyUI at {self.base_url} cannot be reached ({exc})") from None
        if response.status_code >= 500:  # the server is busy or restarting: may pass
            raise TransientError(f"ComfyUI answered {response.status_code} to {path}: {_error_text(response)}")
        if response.status_code >= 400:
            raise JobError(f"ComfyUI answered {response.status_code} to {path}: {_error_text(response)}")
        return response

    def upload(self, path: Path, name: str) -> str:
        """Upload a file to ComfyUI's input folder; return the name a workflow uses for it."""
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        with open(path, "rb") as handle:
            answer = self._request(
                "POST",
                "/upload/image",
                files={"image": (name, handle, mime)},
                data={"type": "input", "overwrite": "true"},
            ).json()
        subfolder = answer.get("subfolder") or ""
        return f"{subfolder}/{answer['name']}" if subfolder else str(answer["name"])

    def connect(self) -> websocket.WebSocket:
        """Open the progress WebSocket for this client (before queueing the prompt)."""
        scheme, netloc, path, _, _ = urlsplit(self.base_url)
        ws_url = urlunsplit(("wss" if scheme == "https" else "ws", netloc, path + "/ws", f"clientId={self.client_id}", ""))
        try:
            return websocket.create_connection(ws_url, timeout=IDLE_POLL_SECONDS)
        except (OSError, websocket.WebSocketException) as exc:
            raise TransientError(f"ComfyUI at {self.base_url} cannot be reached ({exc})") from None

    def queue(self, workflow: dict[str, Any]) -> str:
        """Queue a workflow; return its prompt id."""
        answer = self._request("POST", "/prompt", json={"prompt": workflow, "client_id": self.client_id}).json()
        if answer.get("node_errors"):
            raise JobError(f"ComfyUI refused the workflow: {json.dumps(answer['node_errors'])[:500]}")
        return str(answer["prompt_id"])

    def wait(self, ws: websocket.WebSocket, prompt_id: str, progress: Callable[[float], None]) -> None:
        """Follow the prompt's messages until it ends; ``JobError`` when it fails."""
        while True:
            try:
                raw = ws.recv()
            except websocket.WebSocketTimeoutException:
                if self._finished_in_history(prompt_id):
                    return
                continue
            except (OSError, websocket.WebSocketException) as exc:
                if self._finished_in_history(prompt_id):
                    return
                raise JobError(f"lost the connection to ComfyUI while rendering ({exc})") from None
            if not isinstance(raw, str):
                continue  # binary frames are live previews
            message = json.loads(raw)
            data = message.get("data") or {}
            if data.get("prompt_id") not in (None, prompt_id):
                continue
            if _handle(message.get("type"), data, progress):
                return

    def _finished_in_history(self, prompt_id: str) -> bool:
        entry = self.history(prompt_id)
        if entry is None:
            return False
        status = entry.get("status") or {}
        if status.get("status_str") == "error":
            raise JobError(f"ComfyUI failed the workflow: {_status_error(status)}")
        return bool(status.get("completed", True))

    def history(self, prompt_id: str) -> dict[str, Any] | None:
        """The history entry of a prompt, or None while it is not finished."""
        return self._request("GET", f"/history/{prompt_id}").json().get(prompt_id)

    def download(self, item: dict[str, Any], target: Path) -> None:
        """Fetch one output file (``filename``/``subfolder``/``type``) to ``target``."""
        params = {
            "filename": item["filename"],
            "subfolder": item.get("subfolder", ""),
            "type": item.get("type", "output"),
        }
        response = self._request("GET", "/view", params=params, stream=True)
        with open(target, "wb") as handle:
            for block in response.iter_content(1 << 20):
                handle.write(block)


def _handle(kind: str | None, data: dict[str, Any], progress: Callable[[float], None]) -> bool:
    """React to one WebSocket message; True when the prompt has finished."""
    if kind == "progress" and data.get("max"):
        progress(float(data["value"]) / float(data["max"]))
    elif kind == "execution_error":
        node = data.get("node_type") or data.get("node_id") or "?"
        reason = data.get("exception_message") or data.get("exception_type") or "unknown error"
        raise JobError(f"ComfyUI failed in node {node}: {str(reason).strip()[:500]}")
    elif kind == "execution_interrupted":
        raise JobError("the ComfyUI workflow was interrupted")
    elif kind == "execution_success":
        return True
    elif kind == "executing" and data.get("node") is None and "prompt_id" in data:
        return True
    return False


def _status_error(status: dict[str, Any]) -> str:
    for name, data in status.get("messages") or []:
        if name == "execution_error":
            return str(data.get("exception_message", "unknown error")).strip()[:500]
    return "unknown error"


def _error_text(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return f"{error.get('message', '')} {error.get('details', '')}".strip()[:300]
    return json.dumps(body)[:300]
