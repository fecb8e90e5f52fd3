"""The /ui dashboard end to end in Debian's headless Chromium (Playwright), on the real API
server and a worker with the real embedded engines: one job of each type submitted through
the page's forms (uploads and URLs), watched live through the event stream, its result
played or read. Screenshots are kept under the folder the test prints
(``$C3_ARTIFACTS_DIR/ui`` when set)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import skimage.data
from PIL import Image

from tests.support.servers import free_port
from tests.support.service import api_and_worker, service_env
from tests.support.wer import wer

CHROMIUM = Path("/usr/bin/chromium")
SENTENCE = "The quick brown fox jumps over the lazy dog near the old red barn."
KEY = "ui-test-key"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed"),
]


@pytest.fixture
def served(settings_env: dict[str, str], redis_client: object, tmp_path: Path) -> Iterator[str]:
    """The real API (with an API key) and a worker with every real embedded engine."""
    env = service_env(settings_env, API_PORT=str(free_port()), C3_API_WORKERS="1", C3_API_KEYS=KEY,
                      C3_FETCH_ALLOW="")
    with api_and_worker(env, "csm,whisper,portrait,analyze", tmp_path / "worker.log") as url:
        yield url


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    """Where the screenshots go (printed, so a CI run can keep them)."""
    folder = Path(os.environ.get("C3_ARTIFACTS_DIR", tmp_path)) / "ui"
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nUI screenshots: {folder}")
    return folder


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
"""Debian's Chromium on a closed network: no background requests, no sandbox as root."""


def _submit(page: object, job_type: str) -> None:
    """Submit the form of ``job_type`` and wait until the page shows the new job."""
    before = page.text_content("#job-id") or ""  # type: ignore[attr-defined]
    page.click(f"#tabs button[data-type={job_type}]")  # type: ignore[attr-defined]
    page.click("#submit-button")  # type: ignore[attr-defined]
    page.wait_for_function(  # type: ignore[attr-defined]
        f"document.querySelector('#job-id').textContent !== {before!r}", timeout=30000)


def _wait_done(page: object, timeout_ms: int) -> str:
    page.wait_for_selector("#job-result > *", timeout=timeout_ms)  # type: ignore[attr-defined]
    status = page.text_content("#job-status")  # type: ignore[attr-defined]
    assert status == "success", page.text_content("#job-result")  # type: ignore[attr-defined]
    return str(status)


def _plays(page: object, selector: str) -> float:
    """Play the media element; its duration once it has advanced."""
    page.wait_for_function(  # type: ignore[attr-defined]
        f"document.querySelector('{selector}').readyState >= 2", timeout=15000)
    page.evaluate(f"document.querySelector('{selector}').play()")  # type: ignore[attr-defined]
    page.wait_for_function(  # type: ignore[attr-defined]
        f"document.querySelector('{selector}').currentTime > 0.2", timeout=15000)
    return float(page.evaluate(f"document.querySelector('{selector}').duration"))  # type: ignore[attr-defined]


def test_one_job_of_each_type_through_the_dashboard(
    served: str, artifacts: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    photo = tmp_path / "astronaut.png"
    Image.fromarray(skimage.data.astronaut()).save(photo)
    args = [*CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            # Playwright's wait_for_function evaluates strings, which the page's policy
            # forbids (no unsafe-eval); the app itself runs under the policy in the next test
            page = browser.new_page(viewport={"width": 1280, "height": 1000}, bypass_csp=True)
            page.goto(f"{served}/ui")
            page.fill("#api-key", KEY)
            page.dispatch_event("#api-key", "change")

            page.fill("#form-csm textarea[name=text]", SENTENCE)
            page.select_option("#form-csm select[name=voice]", "conversational_b")
            _submit(page, "csm")
            _wait_done(page, 120_000)
            assert _plays(page, "#result-audio") > 2
            speech_url = page.get_attribute("#result-audio", "src")
            assert speech_url
            page.screenshot(path=str(artifacts / "1-speech.png"), full_page=True)

            page.click("#tabs button[data-type=whisper]")
            page.fill("#form-whisper input[type=url]", speech_url)
            page.select_option("#form-whisper select[name=model]", "base")
            _submit(page, "whisper")
            _wait_done(page, 120_000)
            text = page.text_content("#result-text") or ""
            assert wer(SENTENCE, text) <= 0.15, text
            assert "-->" in (page.text_content("#result-subtitles") or "")
            assert "fetching audio_url" in (page.text_content("#job-log") or "")
            page.screenshot(path=str(artifacts / "2-transcript.png"), full_page=True)

            page.click("#tabs button[data-type=portrait]")
            page.set_input_files("#form-portrait fieldset[data-field=image_url] input[type=file]",
                                 str(photo))
            page.fill("#form-portrait fieldset[data-field=audio_url] input[type=url]", speech_url)
            _submit(page, "portrait")
            _wait_done(page, 240_000)
            assert _plays(page, "#result-video") > 2
            page.screenshot(path=str(artifacts / "3-portrait.png"), full_page=True)

            page.click("#tabs button[data-type=analyze]")
            page.set_input_files("#form-analyze input[type=file]", str(photo))
            _submit(page, "analyze")
            _wait_done(page, 120_000)
            assert len(page.text_content("#result-text") or "") > 10

            page.wait_for_function(
                "[...document.querySelectorAll('#jobs tbody tr')].filter("
                "r => r.children[2].textContent === 'success').length === 4", timeout=10000)
            assert page.locator("#queues tbody tr").count() == 4
            assert "csm" in (page.text_content("#workers") or "")
            page.screenshot(path=str(artifacts / "4-dashboard.png"), full_page=True)
        finally:
            browser.close()


def test_the_dashboard_runs_under_its_content_security_policy(served: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            refused: list[str] = []
            page.on("console", lambda message: refused.append(message.text)
                    if "Content Security Policy" in message.text else None)
            page.goto(f"{served}/ui")
            assert "script-src 'self'" in _policy(served, "/ui")
            page.fill("#api-key", KEY)
            page.dispatch_event("#api-key", "change")
            page.wait_for_selector("#queues tbody tr", timeout=20000)  # its scripts ran, fetched
            # the job list refreshes by itself (GET /jobs every 3 s): a job submitted
            # elsewhere, after the page's last /jobs answer, shows up without a reload
            with page.expect_response(lambda answer: "/jobs?" in answer.url, timeout=10000):
                pass
            job_id = _submit_elsewhere(served)
            page.wait_for_selector(f"#jobs tbody tr[data-id='{job_id}']", timeout=15000)
            assert refused == []
        finally:
            browser.close()


def _submit_elsewhere(served: str) -> str:
    import requests

    answer = requests.post(f"{served}/csm", json={"text": "Hello."},
                           headers={"X-C3-RENDER-KEY": KEY}, timeout=10)
    return str(answer.json()["id"])


def _policy(served: str, path: str) -> str:
    import requests

    return str(requests.get(served + path, timeout=10).headers["Content-Security-Policy"])


def test_the_docs_page_renders_offline(served: str, artifacts: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            outside: list[str] = []
            page.on("request",
                    lambda r: None if r.url.startswith(served) else outside.append(r.url))
            page.goto(f"{served}/docs")
            page.wait_for_selector(".opblock-summary-path", timeout=20000)
            paths = page.locator(".opblock-summary-path").all_text_contents()
            assert any("/csm" in path for path in paths)
            assert outside == []  # every asset is ours: works with no internet
            page.screenshot(path=str(artifacts / "docs.png"), full_page=True)
        finally:
            browser.close()


@pytest.fixture
def behind_prefix(settings_env: dict[str, str], redis_client: object) -> Iterator[str]:
    """The API (C3_TRUST_PROXY=1, API key set) over real HTTP behind a stand-in reverse
    proxy that serves it under /c3 and says so in X-Forwarded-Prefix; its base URL."""
    import threading

    from werkzeug.serving import make_server

    from c3render.api import create_app
    from c3render.settings import load_settings

    app = create_app(load_settings(trust_proxy=1, api_keys=[KEY]))

    def proxy(environ: dict[str, object], start_response: object) -> object:
        path = str(environ.get("PATH_INFO", ""))
        if not path.startswith("/c3/"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])  # type: ignore[operator]
            return [b"outside the prefix"]
        environ.update(PATH_INFO=path[3:], HTTP_X_FORWARDED_PREFIX="/c3")
        return app(environ, start_response)  # type: ignore[arg-type]

    server = make_server("127.0.0.1", 0, proxy, threaded=True)  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/c3"
    server.shutdown()


def test_the_dashboard_and_docs_work_under_a_proxy_prefix(behind_prefix: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            missing: list[str] = []
            page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
            page.goto(f"{behind_prefix}/ui")
            page.fill("#api-key", KEY)
            page.dispatch_event("#api-key", "change")
            page.wait_for_selector("#queues tbody tr", timeout=20000)  # app.js ran, GET /c3/
            job_id = _submit_elsewhere(behind_prefix)
            page.wait_for_selector(f"#jobs tbody tr[data-id='{job_id}']", timeout=15000)
            page.goto(f"{behind_prefix}/docs")
            page.wait_for_selector(".opblock-summary-path", timeout=20000)  # /c3/openapi.json
            assert missing == []
            # "Try it out" goes under the prefix too: GET /workers without a key answers the
            # API's 401 (outside /c3 the stand-in proxy would answer 404)
            operation = page.locator(".opblock-get", has=page.locator(
                ".opblock-summary-path", has_text="/workers")).first
            operation.locator(".opblock-summary").click()
            operation.locator(".execute").click()  # the page opens with "Try it out" on
            status = operation.locator(".live-responses-table tr.response .response-col_status").first
            status.wait_for(timeout=15000)
            assert status.text_content().strip() == "401"
        finally:
            browser.close()
