"""The embedded /portrait engine on a real portrait (skimage astronaut) and LibriVox speech."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from skimage import data

from c3render.engines.base import EngineJob, EngineResult
from c3render.engines.portrait import create_engine
from c3render.engines.portrait.embedded import EmbeddedPortraitEngine
from c3render.engines.portrait.motion import controls
from c3render.engines.portrait.visemes import Word, align_word, sounds, viseme_track
from c3render.errors import InputError
from c3render.job import JobType
from c3render.media.audio import decode_audio, encode_audio
from c3render.settings import Settings
from tests.support.lipsync import (
    mouth_openings,
    piper_speech,
    read_frames,
    viseme_scores,
)

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
SPEECH = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0880.wav"
CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not SPEECH.is_file(), reason="pocketsphinx-testdata missing")


def make_job(workdir: Path, image: Path, audio: Path, job_id: str = "job-1") -> EngineJob:
    """A portrait job on local files."""
    workdir.mkdir(parents=True, exist_ok=True)
    return EngineJob(
        id=job_id,
        type=JobType.PORTRAIT,
        params={},
        inputs={"image_url": image, "audio_url": audio},
        workdir=workdir,
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The astronaut portrait, a coffee cup (no face), two faces, and a non-audio file."""
    root = tmp_path_factory.mktemp("inputs")
    astronaut = data.astronaut()
    Image.fromarray(astronaut).save(root / "astronaut.png")
    Image.fromarray(data.coffee()).save(root / "coffee.png")
    small = np.asarray(Image.fromarray(astronaut).resize((384, 384)))
    pair = np.full((512, 916, 3), 235, dtype=np.uint8)
    pair[:, :512] = astronaut
    pair[64:448, 532:916] = small
    Image.fromarray(pair).save(root / "pair.png")
    (root / "noise.wav").write_bytes(b"RIFF this is not really audio" * 40)
    return {
        "astronaut": root / "astronaut.png",
        "coffee": root / "coffee.png",
        "pair": root / "pair.png",
        "noise": root / "noise.wav",
    }


@pytest.fixture(scope="module")
def engine() -> EmbeddedPortraitEngine:
    """The embedded engine built through the package factory, loaded once."""
    built = create_engine(Settings())
    assert isinstance(built, EmbeddedPortraitEngine)
    built.load()
    return built


@pytest.fixture(scope="module")
def rendered(
    engine: EmbeddedPortraitEngine, files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[EngineResult, list[float]]:
    """One real render of the astronaut speaking a 3 s LibriVox clip, and its progress reports."""
    reports: list[float] = []
    job = make_job(tmp_path_factory.mktemp("render"), files["astronaut"], SPEECH)
    job.progress = reports.append
    return engine.run(job), reports


def test_video_is_h264_with_aac_and_lasts_as_long_as_the_audio(
    rendered: tuple[EngineResult, list[float]],
) -> None:
    result, reports = rendered
    assert result.file is not None and result.file.name == "portrait.mp4"
    assert result.media_type == "video/mp4"
    audio_seconds = decode_audio(SPEECH, 16000).size / 16000
    with av.open(str(result.file)) as container:
        video, sound = container.streams.video[0], container.streams.audio[0]
        assert video.codec_context.name == "h264"
        assert video.codec_context.pix_fmt == "yuv420p"
        assert (video.width, video.height) == (512, 512)
        assert float(video.average_rate) == 25
        assert sound.codec_context.name == "aac"
        container_seconds = container.duration / 1e6
        frames = sum(1 for _ in container.decode(video))
    assert abs(frames / 25 - audio_seconds) <= 0.1
    assert abs(container_seconds - audio_seconds) <= 0.1
    assert result.extra["frames"] == frames
    assert abs(result.extra["duration"] - audio_seconds) < 0.01
    assert "note" not in result.extra
    assert reports and reports == sorted(reports) and 0 < reports[-1] <= 1


def test_mouth_moves_with_the_words_of_real_speech(rendered: tuple[EngineResult, list[float]]) -> None:
    result, _ = rendered
    assert str(result.extra["mouth"]).startswith("visemes from")
    frames, _ = read_frames(result.file)
    opening = mouth_openings(frames)
    assert np.isnan(opening).mean() < 0.05, "face mesh should see the face in the output frames"
    assert np.nanpercentile(opening, 90) > 3 * max(np.nanpercentile(opening, 10), 0.01)


def test_lips_shut_on_m_b_p_and_in_pauses_open_on_a(
    engine: EmbeddedPortraitEngine, files: dict[str, Path], tmp_path: Path
) -> None:
    """Against piper's own phoneme timing, measured on the video by face mesh."""
    samples, rate, phonemes = piper_speech("Mama bought a big apple pie. Bob paid for the map.")
    encode_audio(samples, rate, tmp_path / "speech.wav", "wav")
    result = engine.run(make_job(tmp_path / "work", files["astronaut"], tmp_path / "speech.wav"))
    assert result.file is not None
    scores = viseme_scores(result.file, phonemes)
    assert scores["n_bilabial"] >= 10 and scores["n_open"] >= 6
    assert scores["open"] > 0.08  # the mouth does open on "a"
    assert scores["closure"] > 0.7 and scores["pause_ratio"] < 0.3, scores


def test_viseme_sounds_and_alignment() -> None:
    assert sounds("Mama") == ["closed", "open", "closed", "open"]
    assert sounds("phone") == ["labiodental", "round", "consonant", "spread"]
    assert sounds("moon") == ["closed", "tight", "consonant"]
    # a loud vowel between two quiet closures: the closures land on the quiet frames
    energy = np.array([0.0] * 3 + [0.05] * 6 + [1.0] * 12 + [0.05] * 6 + [0.0] * 3)
    spans = align_word(["closed", "open", "closed"], energy)
    assert [kind for _, _, kind in spans] == ["closed", "open", "closed"]
    assert spans[1][0] in range(8, 11) and spans[1][1] in range(20, 23)
    jaw, _ = viseme_track([Word("map", 0.1, 0.5)], 20, 25)
    assert jaw[0] == 0 and jaw.max() > 0.6 and jaw[-1] < 0.05  # closed outside the word


def test_background_stays_still_while_the_head_moves(
    rendered: tuple[EngineResult, list[float]],
) -> None:
    result, _ = rendered
    frames, _ = read_frames(result.file)
    stack = np.stack(frames).astype(np.float32)
    change = np.abs(stack - stack[0]).max(axis=-1).mean(axis=0)
    face_box = change[100:300, 150:360].mean()
    corner = change[:60, :60].mean()
    assert face_box > 5 * max(corner, 0.5)


def test_controls_are_deterministic_and_blink() -> None:
    audio = decode_audio(SPEECH, 48000)
    first, second = controls(audio, 48000, seed=7), controls(audio, 48000, seed=7)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, controls(audio, 48000, seed=8))
    blink = first[:, 2]
    assert blink.max() == pytest.approx(1.0) and (blink > 0.5).sum() <= 4 * (len(blink) / 50 + 1)


def test_picture_without_a_face_is_refused(
    engine: EmbeddedPortraitEngine, files: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(InputError, match="no face found in image_url"):
        engine.run(make_job(tmp_path, files["coffee"], SPEECH))


def test_several_faces_animate_the_largest_and_say_so(
    files: dict[str, Path], tmp_path: Path
) -> None:
    small = EmbeddedPortraitEngine(Settings(portrait_size=128))
    result = small.run(make_job(tmp_path, files["pair"], SPEECH))
    assert "2 faces found" in result.extra["note"] and "largest" in result.extra["note"]
    frames, _ = read_frames(result.file)
    assert frames[0].shape == (128, 128, 3)


def test_undecodable_audio_is_a_clear_error(
    engine: EmbeddedPortraitEngine, files: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(InputError, match="audio_url"):
        engine.run(make_job(tmp_path, files["astronaut"], files["noise"]))


def test_too_long_audio_is_refused(files: dict[str, Path], tmp_path: Path) -> None:
    strict = EmbeddedPortraitEngine(Settings(portrait_max_audio_seconds=1.0))
    with pytest.raises(InputError, match="longer than 1 s"):
        strict.run(make_job(tmp_path, files["astronaut"], SPEECH))


@pytest.fixture
def served(rendered: tuple[EngineResult, list[float]]) -> Iterator[str]:
    """The rendered video and a page with a <video> element, on a local HTTP server."""
    folder = rendered[0].file.parent
    (folder / "index.html").write_text(
        '<!doctype html><video id="v" src="portrait.mp4" muted playsinline preload="auto"></video>'
    )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    server.shutdown()
    server.server_close()


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed")
def test_video_plays_in_chromium(served: str) -> None:
    from playwright.sync_api import sync_playwright

    args = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync",
    ]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            page = browser.new_page()
            page.goto(served)
            page.wait_for_function("document.getElementById('v').readyState >= 2", timeout=15000)
            duration = page.evaluate("document.getElementById('v').duration")
            assert abs(duration - decode_audio(SPEECH, 16000).size / 16000) <= 0.1
            assert page.evaluate("document.getElementById('v').videoWidth") == 512
            page.evaluate("document.getElementById('v').play()")
            page.wait_for_function("document.getElementById('v').currentTime > 0.5", timeout=15000)
            assert page.evaluate("document.getElementById('v').error") is None
        finally:
            browser.close()
