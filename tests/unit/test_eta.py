"""The ETA's arithmetic on known samples and farms (``queue/eta_model.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from c3render.inputs.size import measure_size
from c3render.job import JobType
from c3render.queue.eta import Eta, parse_samples
from c3render.queue.eta_model import (
    Farm,
    Fit,
    Sample,
    SimSlot,
    size_from_params,
    start_in,
)
from tests.support.media import wav_bytes


def test_no_samples_no_fit() -> None:
    assert Fit.from_samples([]) is None


def test_the_line_is_found_despite_outliers() -> None:
    samples = [Sample(size, 2.0 + 0.05 * size) for size in range(10, 400, 20)]
    samples[3] = Sample(samples[3].size, 90.0)  # a run that hung on a slow input host
    samples[7] = Sample(samples[7].size, 0.01)
    fit = Fit.from_samples(samples)
    assert fit is not None and fit.rate is not None and fit.overhead is not None
    assert fit.rate == pytest.approx(0.05, rel=0.02)
    assert fit.overhead == pytest.approx(2.0, abs=0.2)
    assert fit.predict(1000) == pytest.approx(52.0, rel=0.03)
    assert fit.basis(1000, "characters")["method"] == "size"


def test_unknown_sizes_predict_the_median() -> None:
    fit = Fit.from_samples([Sample(None, s) for s in (1.0, 2.0, 3.0, 4.0, 100.0)])
    assert fit is not None and fit.rate is None
    assert fit.predict(None) == 3.0 and fit.predict(50.0) == 3.0
    assert fit.mean == pytest.approx(22.0)
    assert fit.basis(None, "audio_seconds")["method"] == "median"


def test_too_few_sized_samples_do_not_fit_a_line() -> None:
    fit = Fit.from_samples([Sample(10, 1.0), Sample(20, 2.0), Sample(None, 5.0)])
    assert fit is not None and fit.rate is None and fit.predict(20) == 2.0


def test_equal_sizes_give_a_rate_per_unit() -> None:
    fit = Fit.from_samples([Sample(4.0, s) for s in (2.0, 2.0, 2.2, 1.8, 2.0)])
    assert fit is not None and fit.rate == pytest.approx(0.5) and fit.overhead == 0.0


def test_remaining_of_a_running_job() -> None:
    fit = Fit.from_samples([Sample(None, s) for s in (9.0, 10.0, 11.0, 10.0, 30.0)])
    assert fit is not None
    assert fit.remaining(None, elapsed=4.0, progress=0.0) == pytest.approx(6.0)
    # half done after 4 s: the progress says 4 s more, the samples 6 s; blended half and half
    assert fit.remaining(None, elapsed=4.0, progress=0.5) == pytest.approx(5.0)
    # past its prediction: what the samples that ran longer still took
    assert fit.remaining(None, elapsed=20.0, progress=0.0) == pytest.approx(10.0)
    assert fit.remaining(None, elapsed=40.0, progress=0.0) == pytest.approx(4.0)


def test_two_slots_take_the_jobs_ahead_in_turn() -> None:
    farm = Farm([SimSlot(("csm",), 0.0, 0), SimSlot(("csm",), 0.0, 1)], {"csm": 3}, {"csm": 10.0})
    assert start_in(farm, "csm") == 10.0
    busy = Farm([SimSlot(("csm",), 4.0, 0), SimSlot(("csm",), 7.0, 1)], {"csm": 0}, {"csm": 10.0})
    assert start_in(busy, "csm") == 4.0


def test_other_types_share_the_slots() -> None:
    # one slot reading csm and whisper in turn: 5 whisper jobs wait, 1 csm job is ahead
    farm = Farm([SimSlot(("csm", "whisper"), 0.0, 0)], {"csm": 1, "whisper": 5},
                {"csm": 2.0, "whisper": 3.0})
    # from csm: csm (2 s), whisper (3 s), then the job itself at 5 s; from whisper: whisper,
    # csm, whisper, then it at 8 s. Which comes first is not known: the mean
    assert start_in(farm, "csm") == 6.5
    dedicated = Farm([SimSlot(("csm",), 0.0, 0), SimSlot(("whisper",), 0.0, 1)],
                     {"csm": 1, "whisper": 5}, {"csm": 2.0, "whisper": 3.0})
    assert start_in(dedicated, "csm") == 2.0


def test_no_slot_serves_the_type() -> None:
    farm = Farm([SimSlot(("whisper",), 0.0, 0)], {"csm": 0}, {"csm": 1.0})
    assert start_in(farm, "csm") is None


def test_a_delayed_retry_joins_the_back_of_its_queue() -> None:
    farm = Farm([SimSlot(("csm",), 0.0, 0)], {"csm": 2}, {"csm": 10.0},
                arrivals=[(5.0, "csm"), (30.0, "csm")])
    # due at 8 s: behind the 2 waiting and the retry due at 5 s, ahead of the one due at 30 s
    assert start_in(farm, "csm", arrives_in=8.0) == 30.0
    idle = Farm([SimSlot(("csm",), 0.0, 0)], {"csm": 0}, {"csm": 10.0})
    assert start_in(idle, "csm", arrives_in=8.0) == 8.0


def test_text_size_and_sample_parsing() -> None:
    assert size_from_params(JobType.CSM, {"text": "Hello"}) == 5.0
    assert size_from_params(JobType.CSM, {"monologue": ["Hi", "there"]}) == 7.0
    assert size_from_params(JobType.WHISPER, {"audio_url": "x"}) is None
    assert parse_samples(["12.5 3.0", " 4.0", "bad", "1 x"]) == [Sample(12.5, 3.0),
                                                                   Sample(None, 4.0)]


def test_the_document_says_why_there_is_no_eta() -> None:
    assert Eta(reason="no finished csm job yet").fields() == {
        "eta": None, "eta_reason": "no finished csm job yet"}
    fields = Eta(1.234, 5.678, {"samples": 3}).fields()
    assert fields == {"eta": {"start_in_s": 1.2, "finish_in_s": 5.7, "basis": {"samples": 3}}}


def test_the_worker_measures_audio_seconds_and_megapixels(tmp_path: Path) -> None:
    audio, image = tmp_path / "a.wav", tmp_path / "i.png"
    audio.write_bytes(wav_bytes(2.5))
    Image.new("RGB", (1000, 500)).save(image)
    assert measure_size(JobType.WHISPER, {}, {"audio_url": audio}) == pytest.approx(2.5, abs=0.01)
    assert measure_size(JobType.ANALYZE, {}, {"image_url": image}) == pytest.approx(0.5)
    assert measure_size(JobType.CSM, {"text": "abc"}, {}) == 3.0
    broken = tmp_path / "b.wav"
    broken.write_bytes(b"not audio")
    assert measure_size(JobType.PORTRAIT, {}, {"audio_url": broken}) is None
