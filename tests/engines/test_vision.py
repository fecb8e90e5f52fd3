"""The embedded image analyzer on real pictures (skimage.data) and on images made here."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from skimage import data

from c3render.engines.base import EngineJob
from c3render.engines.registry import create_engine
from c3render.engines.vision import colours
from c3render.engines.vision import create_engine as vision_factory
from c3render.engines.vision.describe import describe
from c3render.engines.vision.embedded import EmbeddedAnalyzer
from c3render.engines.vision.faces import expression, head_pose
from c3render.engines.vision.ocr import keep_line, position
from c3render.engines.vision.safety import safety_label
from c3render.errors import EngineUnavailable, InputError
from c3render.job import JobType
from c3render.settings import Settings


@pytest.fixture(scope="module")
def engine() -> Iterator[EmbeddedAnalyzer]:
    """One loaded analyzer for the whole module (detectors are created once)."""
    analyzer = create_engine(JobType.ANALYZE, Settings(vlm_model_dir=None))
    assert isinstance(analyzer, EmbeddedAnalyzer)
    analyzer.load()
    yield analyzer


def run(engine: EmbeddedAnalyzer, path: Path, **params: object) -> tuple[str, dict]:
    """Run one job on a file; return the description and the analysis."""
    job = EngineJob(id="t", type=JobType.ANALYZE, params=dict(params),
                    inputs={"image_url": path}, workdir=path.parent)
    result = engine.run(job)
    assert result.text and result.file is None
    json.dumps(result.extra)  # the analysis must be JSON-able as stored
    return result.text, result.extra["analysis"]


def save(tmp_path: Path, rgb: np.ndarray, name: str, **kwargs: object) -> Path:
    """Write an RGB array to an image file."""
    path = tmp_path / name
    Image.fromarray(rgb).save(path, **kwargs)
    return path


def landscape() -> np.ndarray:
    """A composed landscape-like picture: blue sky gradient over textured green hills."""
    rng = np.random.default_rng(1)
    height, width = 480, 720
    rows = np.linspace(0.0, 1.0, height)[:, None]
    sky = np.array([70, 140, 225]) * (1 - rows) + np.array([165, 200, 240]) * rows
    image = np.repeat(sky[:, None, :], width, axis=1)
    horizon = (height * 0.5 + 30 * np.sin(np.arange(width) / 80)).astype(int)
    ground = np.arange(height)[:, None] >= horizon[None, :]
    image[ground] = [55, 125, 45]
    image += rng.normal(0, 14, image.shape) * ground[..., None]
    return np.clip(image, 0, 255).astype(np.uint8)


def sign(word: str = "OPEN") -> np.ndarray:
    """Printed text rendered with Pillow's default font near the top of a white image."""
    image = Image.new("RGB", (640, 480), "white")
    draw = ImageDraw.Draw(image)
    draw.text((220, 40), word, fill="black", font=ImageFont.load_default(size=72))
    return np.asarray(image)


def test_portrait_photo_one_person_facing_camera_smiling(engine, tmp_path):
    text, analysis = run(engine, save(tmp_path, data.astronaut(), "astronaut.png"))
    assert analysis["people_count"] == 1
    face = analysis["faces"][0]
    assert face["head"]["facing"] == "facing the camera"
    assert face["expression"]["smiling"] and not face["expression"]["eyes_closed"]
    x, y, w, h = face["box"]
    assert 150 < x + w / 2 < 300 and 60 < y + h / 2 < 180  # her face, upper middle
    assert analysis["safety"]["label"] == "safe"
    assert "512×512" in text and "One person" in text and "facing the camera" in text
    assert "smiling" in text and "No nudity detected" in text and "safe" not in text
    assert text.startswith("One person")


def test_printed_page_is_read(engine, tmp_path):
    text, analysis = run(engine, save(tmp_path, data.page(), "page.png"))
    lines = [line["text"] for line in analysis["text"]]
    assert lines[0] == "Region-based segmentation"
    assert any("markers of the coins" in line for line in lines)
    assert analysis["people_count"] == 0 and analysis["image"]["grayscale"]
    assert "Region-based segmentation" in text and "lines of text" in text
    assert "black-and-white" in text


def test_sign_text_and_its_position(engine, tmp_path):
    text, analysis = run(engine, save(tmp_path, sign(), "sign.png"))
    assert [line["text"] for line in analysis["text"]] == ["OPEN"]
    assert analysis["text"][0]["position"] == "top centre"
    assert "the text “OPEN” appears at the top" in text


def test_landscape_colours_are_measured_not_read_as_a_scene(engine, tmp_path):
    text, analysis = run(engine, save(tmp_path, landscape(), "hills.jpg", quality=90))
    assert analysis["image"]["orientation"] == "landscape"
    assert analysis["image"]["bands"]["top"] in {"blue", "light blue"}
    assert analysis["image"]["bands"]["bottom"] == "green"
    assert analysis["people_count"] == 0 and "person" not in text
    assert "sky" not in text and "outdoor" not in text and "720×480 wide" in text


def test_three_pictures_three_different_true_descriptions(engine, tmp_path):
    texts = {
        name: run(engine, save(tmp_path, image, f"{name}.png"))[0]
        for name, image in [("portrait", data.astronaut()), ("page", data.page()),
                            ("landscape", landscape())]
    }
    assert len(set(texts.values())) == 3
    assert "person" in texts["portrait"] and "person" not in texts["landscape"]
    assert texts["page"].startswith("A page with")


def test_cat_photo_has_no_people_and_names_its_colours(engine, tmp_path):
    text, analysis = run(engine, save(tmp_path, data.chelsea(), "cat.png"))
    assert analysis["people_count"] == 0 and analysis["text"] == []
    assert analysis["image"]["colours"][0]["name"] == "brown"
    assert text.startswith("A cat.") and analysis["subject"]["subject"]["word"] == "a cat"


def test_coffee_photo_leads_with_its_subject(engine, tmp_path):
    text, analysis = run(engine, save(tmp_path, data.coffee(), "coffee.png"))
    assert text.startswith("A cup of coffee.")
    assert analysis["subject"]["top"][0]["class"] == "espresso"
    assert analysis["people_count"] == 0
    assert "person" not in text and "brown" in text


def test_large_image_boxes_in_original_pixels(engine, tmp_path):
    small = run(engine, save(tmp_path, data.astronaut(), "small.png"))[1]
    big_rgb = np.asarray(Image.fromarray(data.astronaut()).resize((2048, 2048), Image.BICUBIC))
    big = run(engine, save(tmp_path, big_rgb, "big.png"))[1]
    assert big["image"]["width"] == 2048
    ratio = np.array(big["faces"][0]["box"]) / np.array(small["faces"][0]["box"])
    assert np.allclose(ratio, 4.0, rtol=0.15)


def test_exif_orientation_camera_and_date(engine, tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned: viewers rotate it 90° clockwise
    exif[0x010F], exif[0x0110], exif[0x0132] = "Canon", "Canon EOS 5D", "2021:06:01 10:30:00"
    stored = np.ascontiguousarray(np.rot90(data.astronaut()[:, :400]))  # 400 wide → 512x400
    path = save(tmp_path, stored, "turned.jpg", exif=exif, quality=92)
    text, analysis = run(engine, path)
    assert (analysis["image"]["width"], analysis["image"]["height"]) == (400, 512)
    assert analysis["image"]["exif"] == {"camera": "Canon EOS 5D", "date": "2021:06:01 10:30:00"}
    assert analysis["image"]["format"] == "JPEG"
    assert analysis["faces"] and analysis["faces"][0]["head"]["facing"] == "facing the camera"
    assert "Taken with a Canon EOS 5D on 2021:06:01 10:30:00." in text


def test_tilted_head(engine, tmp_path):
    turned = np.asarray(Image.fromarray(data.astronaut()).rotate(25, resample=Image.BILINEAR))
    text, analysis = run(engine, save(tmp_path, turned, "tilt.png"))
    assert analysis["faces"][0]["head"]["tilted"]
    assert "head tilted" in text


def test_blurry_and_dark(engine, tmp_path):
    blurred = Image.fromarray(data.astronaut()).filter(ImageFilter.GaussianBlur(4))
    dark = (np.asarray(blurred) * 0.3).astype(np.uint8)
    text, analysis = run(engine, save(tmp_path, dark, "dark.png"))
    assert analysis["image"]["focus"] == "blurry" and analysis["image"]["lighting"] == "dark"
    assert text.startswith("One person") and "A blurry, dark 512×512" in text


def test_prompt_is_noted_as_unanswered(engine, tmp_path):
    text, analysis = run(engine, save(tmp_path, landscape(), "q.png"), prompt="Is it raining?")
    assert analysis["prompt"] == {"question": "Is it raining?", "answered": False}
    assert "vision-language model" in text


@pytest.mark.parametrize("content", [b"not an image at all", b""])
def test_non_image_is_input_error(engine, tmp_path, content):
    path = tmp_path / "x.jpg"
    path.write_bytes(content)
    with pytest.raises(InputError, match="image_url"):
        run(engine, path)


def test_truncated_image_is_input_error(engine, tmp_path):
    whole = save(tmp_path, data.astronaut(), "whole.jpg", quality=90).read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(whole[: len(whole) // 3])
    with pytest.raises(InputError, match="image_url"):
        run(engine, path)


# --- the pieces, on inputs made exact ------------------------------------------------


@pytest.fixture(scope="module")
def mesh(engine) -> np.ndarray:
    """The astronaut's face mesh landmarks in pixels (x, y, z)."""
    import mediapipe as mp

    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True) as fm:
        marks = fm.process(data.astronaut()).multi_face_landmarks[0].landmark
    return np.array([(p.x * 512, p.y * 512, p.z * 512) for p in marks])


@pytest.mark.parametrize("degrees, facing", [(35, "turned to the right"), (-35, "turned to the left"),
                                             (0, "facing the camera")])
def test_head_turn_from_landmarks_turned_in_3d(mesh, degrees, facing):
    centre = mesh.mean(axis=0)
    angle = math.radians(degrees)
    x, z = mesh[:, 0] - centre[0], mesh[:, 2] - centre[2]
    turned = mesh.copy()
    turned[:, 0] = centre[0] + x * math.cos(angle) - z * math.sin(angle)
    turned[:, 2] = centre[2] + x * math.sin(angle) + z * math.cos(angle)
    pose = head_pose(turned)
    assert pose["facing"] == facing and not pose["tilted"]


def test_expression_cues_from_moved_landmarks(mesh):
    assert not expression(mesh)["mouth_open"]
    opened = mesh.copy()
    opened[14, 1] += 25  # lower inner lip drops
    assert expression(opened)["mouth_open"]
    shut = mesh.copy()
    shut[[159, 386], 1] = shut[[145, 374], 1]  # upper lids down onto the lower
    assert expression(shut)["eyes_closed"]


def test_safety_labels():
    assert safety_label([{"class": "FACE_FEMALE", "score": 0.9}]) == "safe"
    assert safety_label([{"class": "BELLY_EXPOSED", "score": 0.7}]) == "revealing"
    assert safety_label([{"class": "BUTTOCKS_EXPOSED", "score": 0.3}]) == "safe"
    assert safety_label([{"class": "FEMALE_BREAST_EXPOSED", "score": 0.8}]) == "nudity"


def test_colour_names_and_ocr_helpers():
    named = {rgb: colours.colour_name(rgb) for rgb in [
        (0, 0, 0), (255, 255, 255), (128, 128, 128), (220, 30, 30), (30, 160, 40),
        (40, 70, 220), (150, 190, 235), (240, 220, 40), (120, 70, 30)]}
    assert list(named.values()) == ["black", "white", "grey", "red", "green", "blue",
                                    "light blue", "yellow", "brown"]
    assert position(10, 10, 300, 300) == "top left" and position(150, 290, 300, 300) == "bottom centre"
    assert keep_line("OPEN", 0.9) and not keep_line("0", 0.95) and not keep_line("abc", 0.3)


def test_nudity_wording_in_description():
    analysis = {
        "image": {"width": 10, "height": 10, "orientation": "square", "focus": "sharp",
                  "lighting": "bright", "grayscale": False, "colours": [],
                  "bands": {"top": "grey", "bottom": "grey"}},
        "faces": [], "person": None, "people_count": 0, "hands": [], "text": [],
        "safety": {"label": "nudity", "detections": []},
    }
    assert "Nudity detected." in describe(analysis)
    assert describe(analysis).startswith("The main subject was not recognised.")


def test_factory_chooses_and_explains(monkeypatch, tmp_path):
    assert isinstance(vision_factory(Settings(vlm_model_dir=None)), EmbeddedAnalyzer)
    vlm = vision_factory(Settings(vlm_model_dir=tmp_path))
    assert vlm.job_type == JobType.ANALYZE and not isinstance(vlm, EmbeddedAnalyzer)
    import c3render.engines.vision as vision

    monkeypatch.setattr(vision.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(EngineUnavailable, match="rapidocr"):
        vision_factory(Settings(vlm_model_dir=None))
    with pytest.raises(EngineUnavailable, match="transformers"):
        vision_factory(Settings(vlm_model_dir=tmp_path))


def test_text_positions_in_words():
    from c3render.engines.vision.describe import text_phrase

    top, bottom = {"text": "CLOSED", "position": "top centre"}, {"text": "9 to 5", "position": "bottom left"}
    assert text_phrase([top, bottom]) == "the text “CLOSED” appears at the top and “9 to 5” at the bottom"
    assert text_phrase([bottom]) == "the text “9 to 5” appears at the bottom"
    many = [{"text": f"line {i}", "position": "middle centre"} for i in range(4)]
    assert text_phrase(many) == "four lines of text, beginning “line 0”"


def test_two_people_side_by_side(engine, tmp_path):
    pair = np.concatenate([data.astronaut(), data.astronaut()[:, ::-1]], axis=1)
    text, analysis = run(engine, save(tmp_path, np.ascontiguousarray(pair), "pair.png"))
    assert analysis["people_count"] == 2
    assert all(face["head"]["facing"] == "facing the camera" for face in analysis["faces"])
    centres = sorted(face["box"][0] + face["box"][2] / 2 for face in analysis["faces"])
    assert centres[0] < 512 < centres[1]
    assert text.startswith("Two people, both facing the camera, smiling")
