"""Media that attack decoders end in a clear ``InputError``, inside small memory."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from c3render.errors import InputError
from c3render.media.audio import decode_audio, iter_audio
from c3render.media.images import MAX_PIXELS, open_image
from tests.support.hostile import (
    concat_playlist,
    hls_playlist,
    long_flac,
    png_declaring,
)
from tests.support.media import wav_bytes


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_an_image_declaring_30000_by_30000_is_refused_before_decoding(tmp_path: Path) -> None:
    path = _write(tmp_path / "image_url.png", png_declaring(30000, 30000, rows=1))
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match="image_url is too large"):
            open_image(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024


def test_a_png_decompression_bomb_is_refused(tmp_path: Path) -> None:
    bomb = png_declaring(20000, 20000)  # 400 MP of zeros
    assert len(bomb) < 2 * 1024 * 1024
    with pytest.raises(InputError, match="too large"):
        open_image(_write(tmp_path / "image_url.png", bomb))


def test_between_the_limit_and_twice_it_pillow_refuses_too(tmp_path: Path) -> None:
    side = int((MAX_PIXELS * 1.5) ** 0.5)  # Pillow alone would only warn here
    with pytest.raises(InputError, match="too large"):
        open_image(_write(tmp_path / "image_url.png", png_declaring(side, side, rows=1)))


def test_a_truncated_image_is_a_clear_error(tmp_path: Path) -> None:
    whole = png_declaring(64, 64)
    with pytest.raises(InputError, match="damaged or truncated"):
        open_image(_write(tmp_path / "image_url.png", whole[: len(whole) // 2]))


def test_audio_posing_as_an_image_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not an image"):
        open_image(_write(tmp_path / "image_url.png", wav_bytes()))


def test_hours_of_compressed_audio_decode_only_what_is_used(tmp_path: Path) -> None:
    path = long_flac(tmp_path / "reference_audio_url.flac", 3 * 3600)
    assert path.stat().st_size < 4 * 1024 * 1024
    started = time.process_time()
    tracemalloc.start()
    try:
        samples = decode_audio(path, 16000, "reference_audio_url", max_seconds=60)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert samples.size == 60 * 16000
    assert peak < 64 * 1024 * 1024  # three hours at 16 kHz would be 690 MB
    assert time.process_time() - started < 30


def test_iter_audio_stops_at_max_seconds_across_chunks(tmp_path: Path) -> None:
    path = long_flac(tmp_path / "a.flac", 100)
    sizes = [chunk.size for chunk in iter_audio(path, 8000, chunk_seconds=30, max_seconds=75)]
    assert sum(sizes) == 75 * 8000 and len(sizes) == 3


@pytest.mark.parametrize("name", ["reference_audio_url.wav", "reference_audio_url.bin",
                                  "audio_url.m3u8", "audio_url.mp3"])
@pytest.mark.parametrize("playlist", [concat_playlist, hls_playlist])
def test_playlists_posing_as_audio_open_nothing(tmp_path: Path, name: str,
                                                playlist: object) -> None:
    secret = _write(tmp_path / "secret.wav", wav_bytes(1.0))
    path = _write(tmp_path / name, playlist(str(secret)))  # type: ignore[operator]
    with pytest.raises(InputError, match="not a readable audio file"):
        decode_audio(path, field=name.split(".")[0])
    relative = _write(tmp_path / f"rel-{name}", playlist("secret.wav"))  # type: ignore[operator]
    with pytest.raises(InputError):
        decode_audio(relative)


def test_a_truncated_wav_decodes_what_is_there_or_fails_clearly(tmp_path: Path) -> None:
    whole = wav_bytes(1.0)
    for cut in (20, 44, 45, len(whole) // 2):
        path = _write(tmp_path / f"audio_url-{cut}.wav", whole[:cut])
        try:
            samples = decode_audio(path)
        except InputError:
            continue
        assert samples.size <= 16000


def test_content_differing_from_its_suffix_is_probed_among_media_only(tmp_path: Path) -> None:
    path = _write(tmp_path / "audio_url.mp3", wav_bytes(0.5))  # a WAV named .mp3
    assert decode_audio(path).size == 8000
    with pytest.raises(InputError):
        decode_audio(_write(tmp_path / "audio_url.wav", png_declaring(8, 8)))
