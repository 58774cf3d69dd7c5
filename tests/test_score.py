"""``score``: samples made elsewhere scored in run's space. Real MNIST held-out images as a PNG
folder, a uint8 .npz and a float .npy give the same figures, at the real-data floor; every bad
SAMPLES is one line and exit 2 before any scoring; a saved Keras generator is scored; --json is
one object; scored folders sit beside trained runs in compare."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest
from PIL import Image

import metrics
from benchmarks import data, samples, scoring
from benchmarks.compare import compare
from benchmarks.data import folder_cache
from benchmarks.errors import UserError
from reports import schema
from reports.format import fmt
from tests.clitools import ROOT, assert_one_line_error, cli

N = 2000  # enough for every figure to be meaningful; cheap on 2 cores


def held_out(reference, n: int) -> np.ndarray:
    """The training images ``metrics.real_floor(reference, n)`` scores: the reference never
    used them (not the memorization set, not the test split)."""
    pool = reference.holdout_index
    rng = np.random.default_rng(reference.seed + 1)
    return np.sort(rng.choice(pool, size=min(n, len(pool)), replace=False))


def as_uint8(images: np.ndarray) -> np.ndarray:
    """[-1, 1] floats that came from uint8 pixels back to those exact pixels."""
    return np.round((images + 1.0) * 127.5).astype(np.uint8)


def write_pngs(root, pixels: np.ndarray, per_folder: int = 500) -> None:
    """Grayscale PNGs in nested sub-folders (the reader searches recursively)."""
    for i, image in enumerate(pixels):
        sub = root / f"part{i // per_folder}" / "deeper"
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image[..., 0], "L").save(sub / f"{i:05d}.png")


def generator(out_shape=(28, 28, 1), noise_dim=8, seed=0) -> keras.Model:
    """A tiny untrained generator: noise in, tanh images out (the export contract)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((noise_dim,))
    x = keras.layers.Dense(int(np.prod(out_shape)), activation="tanh")(inputs)
    return keras.Model(inputs, keras.layers.Reshape(out_shape)(x))


@pytest.fixture(scope="module")
def mnist_reference(mnist):
    return metrics.build_reference(mnist, n=N)


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


@pytest.mark.slow
def test_real_held_out_images_in_three_formats_score_the_same_at_the_floor(
        tmp_path, mnist, mnist_reference):
    images = mnist.x_train[held_out(mnist_reference, N)]
    pixels = as_uint8(images)
    assert np.array_equal(np.linspace(-1, 1, 256, dtype=np.float32)[pixels], images)
    write_pngs(tmp_path / "pngs", pixels)
    np.savez(tmp_path / "adm.npz", arr_0=pixels)
    np.save(tmp_path / "floats.npy", images)
    proc = cli("score", str(tmp_path / "pngs"), str(tmp_path / "adm.npz"),
               str(tmp_path / "floats.npy"), "--dataset", "mnist", "--out",
               str(tmp_path / "out"), "--json", timeout=900)
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)  # stdout is that one object, nothing else
    rows = printed["runs"]
    assert [(r["name"], r["format"]) for r in rows] == [
        ("pngs", "folder"), ("adm", "npz"), ("floats", "npy")]
    keys = [k for k in metrics.METRICS if k in rows[0]["figures"]]
    assert {"fid", "kid", "precision", "recall", "density", "coverage", "ndb",
            "memorization", "fid_ci_low", "fid_ci_high"} <= set(keys)
    floor = printed["floor"]
    for row in rows:
        for key in keys:
            assert row["figures"][key] == pytest.approx(rows[0]["figures"][key], abs=1e-6), key
            # the floor scores these very images: a wrong range or a flipped axis moves FID
            assert row["figures"][key] == pytest.approx(floor[key], abs=1e-6), key
    # real images at 2,000 samples: FID only its small-N bias (about 2; trained models: 10s)
    assert floor["fid"] < 5.0 and floor["modes_covered"] == 10
    assert rows[0]["figures"]["memorization"] < 0.1  # unseen images: about 0.05

    record = schema.load(tmp_path / "out")
    assert printed["results"] == str(tmp_path / "out" / "results.json")
    assert [r["source"]["count"] for r in record["runs"]] == [N] * 3
    assert record["runs"][1]["source"]["range"] == "uint8 [0, 255]"
    assert record["runs"][2]["source"]["range"].startswith("[-1, 1]")
    assert all("losses" not in r and "throughput" not in r for r in record["runs"])
    report = (tmp_path / "out" / "report.md").read_text()
    for present in ("## Summary", "*real data (floor)*", "## Mode collapse",
                    "## Diversity and fidelity", "## Samples", "seed 0, scored samples",
                    "figures/adm-s0-samples.png", "nothing was trained"):
        assert present in report, present
    for absent in ("## Throughput", "## Curves", "Progression"):
        assert absent not in report, absent
    assert (tmp_path / "out" / "figures" / "pngs-s0-samples.png").is_file()


def rgb_folder_dataset(root) -> str:
    """A two-class RGB image-folder dataset of 28x28 images."""
    rng = np.random.default_rng(0)
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(5):
            Image.fromarray(rng.integers(0, 256, (28, 28, 3), dtype=np.uint8), "RGB").save(
                root / c / f"{i}.png")
    return str(root)


def bad_inputs(tmp):
    """(name, path, options, fragments of the one-line error) for each bad SAMPLES."""
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (100, 28, 28), dtype=np.uint8)
    np.savez(tmp / "gray.npz", arr_0=gray)
    np.savez(tmp / "big.npz", arr_0=rng.integers(0, 256, (100, 32, 32, 1), dtype=np.uint8))
    nan = rng.uniform(-1, 1, (100, 28, 28, 1)).astype(np.float32)
    nan[7, 3, 3, 0] = np.nan
    np.save(tmp / "nan.npy", nan)
    np.save(tmp / "unit.npy", rng.uniform(0, 1, (100, 28, 28, 1)).astype(np.float32))
    np.save(tmp / "few.npy", rng.uniform(-1, 1, (10, 28, 28, 1)).astype(np.float32))
    np.save(tmp / "nchw.npy", rng.uniform(-1, 1, (100, 1, 28, 28)).astype(np.float32))
    np.save(tmp / "ints.npy", rng.integers(0, 256, (100, 28, 28), dtype=np.int64))
    np.savez(tmp / "two.npz", images=gray, labels=np.zeros(100))
    (tmp / "empty" / "sub").mkdir(parents=True)
    (tmp / "broken").mkdir()
    for i in range(60):
        Image.fromarray(gray[i], "L").save(tmp / "broken" / f"{i:03d}.png")
    (tmp / "broken" / "031.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    generator((32, 32, 1)).save(tmp / "wrong.keras")
    (tmp / "notes.txt").write_text("hi")
    return [
        ("32x32 vs MNIST", "big.npz", {}, ["32x32x1 images, the dataset's are 28x28x1",
                                           "--image-size 28 --channels 1"]),
        ("NaN", "nan.npy", {}, ["1 NaN or infinite values", "image 7"]),
        ("ambiguous floats", "unit.npy", {}, ["floats in [", "--range -1,1 or --range 0,1"]),
        ("outside the stated range", "nan.npy", {"value_range": "0,1"}, ["NaN"]),
        ("too few", "few.npy", {}, ["10 images", "at least 50"]),
        ("fewer than --samples", "gray.npz", {"n": 200}, ["fewer than --samples 200"]),
        ("empty folder", "empty", {}, ["holds no PNG/JPEG images"]),
        ("unreadable image", "broken", {}, ["broken/031.png", "replace or remove it"]),
        (".keras of the wrong shape", "wrong.keras", {"n": 100},
         ["outputs 32x32x1, not images of the dataset's shape 28x28x1"]),
        ("channels first", "nchw.npy", {}, ["channels first", "transpose(0, 2, 3, 1)"]),
        ("int64 without --range", "ints.npy", {}, ["int64", "--range 0,255"]),
        ("npz of several arrays", "two.npz", {}, ["none named arr_0"]),
        ("unknown format", "notes.txt", {}, ["'.txt' is not a format"]),
        ("missing", "nowhere.npz", {}, ["do not exist"]),
    ]


@pytest.mark.slow
def test_each_bad_sample_set_is_one_line(tmp_path, mnist):
    for what, name, options, fragments in bad_inputs(tmp_path):
        with pytest.raises(UserError) as err:
            scoring.read_all([str(tmp_path / name)], mnist, samples.Options(**options))
        message = str(err.value)
        assert "\n" not in message, what
        for fragment in fragments:
            assert fragment in message, (what, message)


def test_values_outside_the_stated_range_are_refused_not_clipped():
    x = np.full((60, 28, 28, 1), 1.5, np.float32)
    with pytest.raises(UserError, match=r"values in \[1.5, 1.5\], outside the range \[0, 1\] "
                                        "you gave"):
        samples.to_unit_range(x, "0,1", "x")
    images, rule = samples.to_unit_range(x / 1.5, "0,1", "x")
    assert rule == "[0, 1] (--range)" and np.all(images == 1.0)
    images, _ = samples.to_unit_range(np.full((60, 4, 4, 1), 51.0), "0,255", "x")
    assert images[0, 0, 0, 0] == pytest.approx(51 / 127.5 - 1)
    with pytest.raises(UserError, match="uint8, which is \\[0, 255\\]; drop --range 0,1"):
        samples.to_unit_range(np.zeros((60, 4, 4, 1), np.uint8), "0,1", "x")


def test_16_bit_samples_have_a_range_and_read_as_16_bit_pngs_do(tmp_path):
    values = np.random.default_rng(0).integers(0, 65536, (60, 28, 28), dtype=np.uint16)
    values[0, 0, :2] = 0, 65535  # the full 16-bit range
    np.save(tmp_path / "wide.npy", values)
    with pytest.raises(UserError, match=r"uint16 values in \[0, 65535\]; store them as uint8 "
                                        r"or say --range 0,65535 \(16 bits\)"):
        samples.read(tmp_path / "wide.npy", (28, 28, 1))
    got = samples.read(tmp_path / "wide.npy", (28, 28, 1), samples.Options(value_range="0,65535"))
    assert got.value_range == "[0, 65535] (--range)"
    (tmp_path / "pngs").mkdir()
    for i, image in enumerate(values):
        Image.fromarray(image).save(tmp_path / "pngs" / f"{i:02d}.png")
    as_pngs = samples.read(tmp_path / "pngs", (28, 28, 1))  # 16-bit PNGs: round(v / 257)
    np.testing.assert_array_equal(got.images, as_pngs.images)


def test_8_bit_samples_are_resized_and_converted_as_an_image_folder_is(tmp_path):
    """The same RGB images as a .npy and as PNGs, brought to 28x28 gray by the flags, are the
    same images: one rule (folder.to_shape), not a second one that rounds otherwise."""
    rgb = np.random.default_rng(0).integers(0, 256, (60, 32, 32, 3), dtype=np.uint8)
    np.save(tmp_path / "rgb32.npy", rgb)
    (tmp_path / "pngs").mkdir()
    for i, image in enumerate(rgb):
        Image.fromarray(image, "RGB").save(tmp_path / "pngs" / f"{i:02d}.png")
    asked = samples.Options(image_size=28, channels=1)
    as_array = samples.read(tmp_path / "rgb32.npy", (28, 28, 1), asked)
    as_pngs = samples.read(tmp_path / "pngs", (28, 28, 1), asked)
    assert as_array.images.shape == (60, 28, 28, 1)
    np.testing.assert_array_equal(as_array.images, as_pngs.images)


def test_refusals_give_only_advice_that_applies():
    keras.utils.set_random_seed(0)
    noise = keras.Input((8,))
    classifier = keras.Model(noise, keras.layers.Dense(10)(noise))  # not images: no resizing
    with pytest.raises(UserError) as err:
        samples.generate(classifier, "generator c", (28, 28, 1), samples.Options(n=60))
    assert "outputs 10, not images of the dataset's shape 28x28x1" in str(err.value)
    assert "--image-size" not in str(err.value)
    loud = keras.Model(noise, keras.layers.Reshape((28, 28, 1))(
        keras.layers.Dense(784, kernel_initializer="ones")(noise)))  # values far past 1
    with pytest.raises(UserError) as err:  # no --range given: not "the range you gave"
        samples.generate(loud, "generator g", (28, 28, 1), samples.Options(n=60))
    assert "outside the range [-1, 1] they are read in" in str(err.value)
    with pytest.raises(UserError, match=r"outside the range \[0, 1\] you gave"):
        samples.generate(loud, "generator g", (28, 28, 1),
                         samples.Options(n=60, value_range="0,1"))
    _, rule = samples.generate(generator(), "generator t", (28, 28, 1), samples.Options(n=60))
    assert rule == "[-1, 1] (a generator's output without --range)"


def test_grayscale_samples_against_an_rgb_dataset_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv(folder_cache.CACHE_ENV, str(tmp_path / "cache"))
    ds = data.load(rgb_folder_dataset(tmp_path / "rgb"))
    assert ds.image_shape == (28, 28, 3)
    np.savez(tmp_path / "gray.npz", np.zeros((60, 28, 28), np.uint8))
    with pytest.raises(UserError) as err:
        scoring.read_all([str(tmp_path / "gray.npz")], ds)
    assert "28x28x1 images, the dataset's are 28x28x3" in str(err.value)
    assert "--channels 3" in str(err.value)
    # asked for, the conversion is done: gray repeated into three equal channels
    got = scoring.read_all([str(tmp_path / "gray.npz")], ds, samples.Options(channels=3))[0]
    assert got.images.shape == (60, 28, 28, 3) and np.all(got.images == -1.0)
    assert got.note == "converted from 1 to 3 channels"


def test_image_size_and_channels_resize_and_convert_as_asked(tmp_path, digits):
    rgb = np.zeros((60, 32, 32, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 255, 0, 51  # luma 0.299*255 + 0.114*51 = 82.06
    np.save(tmp_path / "rgb.npy", rgb)
    asked = samples.Options(image_size=28, channels=1)
    got = scoring.read_all([str(tmp_path / "rgb.npy")], digits, asked)[0]
    assert got.images.shape == (60, 28, 28, 1)
    # a constant image stays constant under a bilinear resize; its gray is Pillow's 8-bit
    # luma, as an image folder's: round(0.299 * 255 + 0.114 * 51 = 82.06)
    np.testing.assert_allclose(got.images, 82 / 127.5 - 1, atol=1e-6)
    assert "resized from 32x32 to 28x28" in got.note
    # floats off the 8-bit grid: the same luma, not rounded
    np.save(tmp_path / "floats.npy", rgb / 255.0 * 0.999)
    got = samples.read(tmp_path / "floats.npy", (28, 28, 1),
                       samples.Options(value_range="0,1", image_size=28, channels=1))
    np.testing.assert_allclose(got.images, (0.299 * 255 + 0.114 * 51) * 0.999 / 127.5 - 1,
                               atol=1e-5)
    with pytest.raises(UserError, match="--image-size 32 does not match digits's 28x28"):
        scoring.read_all([str(tmp_path / "rgb.npy")], digits, samples.Options(image_size=32))


def test_size_and_channel_flags_bring_samples_to_a_named_datasets_shape(tmp_path):
    """README's advice works for mnist, digits, cifar10...: the flags convert the samples, the
    dataset keeps its own shape. The second SAMPLES is bad so the command stops (exit 2)
    after reading the first at digits' shape, before any scoring."""
    np.save(tmp_path / "rgb32.npy", np.full((60, 32, 32, 3), 200, np.uint8))
    np.save(tmp_path / "unit.npy", np.full((60, 28, 28), 0.5, np.float32))
    out = tmp_path / "out"
    proc = cli("score", tmp_path / "rgb32.npy", tmp_path / "unit.npy", "--dataset", "digits",
               "--image-size", "28", "--channels", "1", "--out", out)
    assert_one_line_error(proc, "unit.npy are floats in [0.5, 0.5]")
    assert not out.exists()
    proc = cli("score", tmp_path / "rgb32.npy", "--dataset", "digits", "--image-size", "32")
    assert_one_line_error(proc, "--image-size 32 does not match digits's 28x28 images",
                          "pass --image-size 28")


def write_npy_header(f, shape, descr="|u1") -> None:
    np.lib.format.write_array_header_1_0(
        f, {"descr": descr, "fortran_order": False, "shape": shape})


def test_files_that_are_not_what_they_claim_are_one_line_before_numpy_allocates(tmp_path):
    """Each is exit 2 and one line, never a traceback: a .npy named .npz and the reverse, a
    1 KB .npy (and an .npz member) whose header claims 10^9 images (numpy would allocate
    730 GiB), a pickled array (without numpy's allow_pickle hint), a 0-d array with
    --samples."""
    images = np.zeros((60, 28, 28), np.uint8)
    np.save(tmp_path / "npy.npy", images)
    (tmp_path / "npy.npy").rename(tmp_path / "really-npy.npz")
    np.savez(tmp_path / "npz.npz", images)
    (tmp_path / "npz.npz").rename(tmp_path / "really-npz.npy")
    with open(tmp_path / "huge.npy", "wb") as f:
        write_npy_header(f, (10**9, 28, 28))
        f.write(bytes(1000))
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as z, z.open("arr_0.npy", "w") as f:
        write_npy_header(f, (10**9, 28, 28))
        f.write(bytes(1000))
    np.save(tmp_path / "objects.npy", np.array([{"image": 1}] * 60, dtype=object),
            allow_pickle=True)
    np.save(tmp_path / "scalar.npy", np.float32(0.5))
    cases = [
        ("really-npy.npz", [], ["are a .npy file (as numpy.save writes) named .npz",
                               "rename it really-npy.npy"]),
        ("really-npz.npy", [], ["are a .npz file (as numpy.savez writes) named .npy",
                               "rename it really-npz.npz"]),
        ("huge.npy", [], ["the header says 1000000000x28x28 uint8 values "
                          "(784,000,000,000 bytes) but the file holds 1,000 bytes",
                          "save it again"]),
        ("huge.npz", [], ["(array arr_0): the header says 1000000000x28x28 uint8"]),
        ("objects.npy", [], ["hold Python objects (object array, stored pickled)",
                             "numpy.asarray(images, numpy.uint8)"]),
        ("scalar.npy", ["--samples", "60"], ["have shape ()", "N x H x W x C"]),
    ]
    for name, flags, fragments in cases:
        proc = cli("score", tmp_path / name, *flags, "--dataset", "digits")
        assert_one_line_error(proc, *fragments)
        assert "allow_pickle" not in proc.stderr, name


@pytest.mark.slow
def test_bad_samples_stop_the_command_before_scoring(tmp_path):
    np.savez(tmp_path / "ok.npz", np.zeros((60, 28, 28), np.uint8))
    np.save(tmp_path / "unit.npy", np.full((60, 28, 28), 0.5, np.float32))
    out = tmp_path / "out"
    proc = cli("score", str(tmp_path / "ok.npz"), str(tmp_path / "unit.npy"), "--dataset",
               "digits", "--out", str(out))
    assert_one_line_error(proc, "unit.npy are floats in [0.5, 0.5]", "--range -1,1")
    assert not out.exists()  # nothing scored, nothing written
    proc = cli("score", str(tmp_path / "ok.npz"), "--dataset", "digits", "--range", "0,2")
    assert_one_line_error(proc, "'0,2' is not a range score reads")
    proc = cli("score", str(tmp_path / "ok.npz"), str(tmp_path / "ok.npz"), "--name", "a",
               "--name", "b", "--name", "c", "--dataset", "digits")
    assert_one_line_error(proc, "--name is given 3 times for 2 SAMPLES")


def test_a_score_stopped_by_a_gate_miss_is_recorded_failed(tmp_path, classifier_cache):
    """Stopped after its folder exists: the record says failed and why, the report says so,
    and only the folder's own files are left (no probe)."""
    np.savez(tmp_path / "ok.npz", np.zeros((60, 28, 28), np.uint8))
    out = tmp_path / "scored"
    proc = cli("score", str(tmp_path / "ok.npz"), "--dataset", "digits", "--classifier-gate",
               "99.99", "--out", str(out),
               env={"BENCHMARKS_CACHE_DIR": str(classifier_cache), "BENCHMARKS_DATA_DIR": None})
    assert_one_line_error(proc, "< its gate 100.0%", f"{out} is kept, marked failed")
    results = schema.load(out)
    assert results["status"] == "failed" and results["runs"] == []
    assert any(n.startswith("failed at ") and "gate" in n for n in results["notes"])
    assert "FAILED" in (out / "report.md").read_text()
    assert sorted(p.name for p in out.iterdir()) == [".lock", "figures", "report.md",
                                                     "results.json"]


def test_range_flag_takes_a_negative_low_end():
    from benchmarks.cli import build_parser

    args = build_parser().parse_args(["score", "a.npz", "--dataset", "digits", "--range",
                                      "-1,1"])
    assert args.value_range == "-1,1" and args.samples == ["a.npz"]


def test_row_names_and_seeds():
    assert scoring.row_names(["a/x.npz", "b/y.npz"], []) == [("x", 0), ("y", 0)]
    assert scoring.row_names(["a/x.npz", "b/x.npz"], []) == [("x#1", 0), ("x#2", 0)]
    # one --name: every SAMPLES is a seed of that row
    assert scoring.row_names(["a.npz", "b.npz", "c.npz"], ["mine"]) == [
        ("mine", 0), ("mine", 1), ("mine", 2)]
    assert scoring.row_names(["a.npz", "b.npz", "c.npz"], ["p", "q", "p"]) == [
        ("p", 0), ("q", 0), ("p", 1)]
    with pytest.raises(UserError, match="not a row name"):
        scoring.row_names(["a.npz"], ["x/y"])


def test_a_row_name_is_letters_digits_and_four_marks(tmp_path):
    """A row's name reaches file names and report.md: only what its refusal says it may hold."""
    assert scoring.row_names(["a.npz", "b.npz"], ["a#1", "dcgan-ema_2.x"]) == [
        ("a#1", 0), ("dcgan-ema_2.x", 0)]
    for bad in ("<img src=x onerror=alert(1)>", "a b", "a|b", "x\ny", "`x`", "[a](b)", ""):
        with pytest.raises(UserError, match="not a row name; use only letters, digits and "
                                            "- _ . #"):
            scoring.row_names(["a.npz"], [bad])
    np.savez(tmp_path / "a.npz", np.zeros((10, 28, 28), np.uint8))
    proc = cli("score", tmp_path / "a.npz", "--dataset", "digits", "--name",
               "<img src=x onerror=alert(1)>", "--out", tmp_path / "out")
    assert_one_line_error(proc, "--name '<img src=x onerror=alert(1)>' is not a row name")
    assert not (tmp_path / "out").exists()


def test_rows_whose_names_are_one_file_name_keep_their_own_figures():
    """'a#1' and 'a_1' are both 'a_1' in a file name: the second row's figures must not
    overwrite the first's (nor 'A_1''s, on a file system that ignores case)."""
    rows = [("a#1", 0), ("a_1", 0), ("A_1", 0), ("mine", 0), ("mine", 1), ("a_1-s0", 2)]
    assert scoring.row_tags(rows) == ["a_1-s0", "a_1-s0-2", "A_1-s0-3", "mine-s0", "mine-s1",
                                      "a_1-s0-s2"]


@pytest.mark.slow
def test_a_saved_keras_generator_is_scored_as_the_api_scores_it(tmp_path, digits):
    model = generator()
    model.save(tmp_path / "gen.keras")
    got = samples.read(tmp_path / "gen.keras", digits.image_shape,
                       samples.Options(n=300, seed=3))
    noise = np.random.default_rng(3).standard_normal((300, 8)).astype(np.float32)
    np.testing.assert_allclose(got.images, model.predict(noise, verbose=0), atol=1e-6)
    assert got.format == "keras" and "seed 3" in got.note

    proc = cli("score", str(tmp_path / "gen.keras"), "--dataset", "digits", "--samples", "300",
               "--seed", "3", "--out", str(tmp_path / "out"), "--json", timeout=600)
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout)["runs"][0]
    assert row["format"] == "keras" and row["name"] == "gen"

    from benchmarks import score

    figures = score(model, "digits", n=300, seed=3)
    for key in metrics.METRICS:
        if key in row["figures"]:
            assert figures[key] == pytest.approx(row["figures"][key], abs=1e-6), key
    # noise of this untrained net is far from digits: its FID is far above the floor
    floor = json.loads((tmp_path / "out" / "results.json").read_text())["floor"]
    assert figures["fid"] > 10 * floor["fid"]


@pytest.mark.slow
def test_api_scores_arrays_by_the_same_rule(digits):
    from benchmarks import score

    reference = metrics.build_reference(digits, n=300)
    images = digits.x_train[held_out(reference, 300)]
    as_float = score(images, "digits")
    expected = metrics.real_floor(reference, n=300)
    pixels = as_uint8(images)  # digits are not on the 256-level grid: these are other images
    as_pixels = score(pixels, "digits")
    as_their_floats = score(np.linspace(-1, 1, 256, dtype=np.float32)[pixels], "digits")
    for key in ("fid", "kid", "precision", "coverage", "ndb"):
        assert as_float[key] == pytest.approx(expected[key], abs=1e-6)
        assert as_pixels[key] == pytest.approx(as_their_floats[key], abs=1e-6)
    with pytest.raises(UserError, match="--range"):
        score((images + 1) / 2, "digits")  # [0, 1] floats must say so
    assert score((images + 1) / 2, "digits", value_range="0,1")["fid"] == pytest.approx(
        expected["fid"], abs=1e-4)


def test_the_api_raises_only_user_errors_naming_the_argument():
    """README promises UserError for bad input: never AttributeError, KeyError, TypeError or
    numpy's ValueError, and no dataset guessed. Each stops before any scoring."""
    from benchmarks import score

    x = np.zeros((60, 28, 28), np.uint8)
    cases = [
        ((x, 5), {}, "dataset 5 is not a dataset; pass its name (cifar10, digits,"),
        ((x, None), {}, "dataset None is not a dataset"),
        ((x - 0.5, "digits"), {"value_range": "0,2"},
         "value_range='0,2' is not a range score reads; pass one of '-1,1', '0,1'"),
        ((x, "digits"), {"n": "10"}, "n='10' is not a whole number"),
        ((x, "digits"), {"n": 0}, "n=0 is outside at least 1"),
        ((x, "digits"), {"seed": -1}, "seed=-1 is outside 0..4,294,967,295"),
        ((x, "digits"), {"seed": 1.5}, "seed=1.5 is not a whole number"),
        ((x, "digits"), {"channels": 2}, "channels=2 is not a channel count; pass 1 or 3"),
        ((x, "digits"), {"image_size": 4}, "image_size=4 is outside 8..1,024"),
        ((np.float32(0.5), "digits"), {"n": 60}, "shape () is not N x H x W x C images"),
        (([[0, 1], [2]], "digits"), {}, "the list given as samples is not an array"),
        ((x, "digits"), {"colour": 3}, "unexpected keyword argument 'colour'"),
    ]
    for args, options, fragment in cases:
        with pytest.raises(UserError) as err:
            score(*args, **options)
        assert fragment in str(err.value) and "\n" not in str(err.value), (options, err.value)


def test_importing_the_package_stays_light():
    code = "import sys, benchmarks; benchmarks.score; print('keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "False"


def trained_record(scored: dict) -> dict:
    """A trained run on the same dataset and classifier as ``scored``, as ``run`` writes it."""
    results = schema.new_results(
        command="python -m benchmarks run", environment=scored["environment"],
        config={"models": ["ae"], "dataset": "digits", "preset": "smoke", "steps": 20,
                "seeds": 1, "backend": "tensorflow", "precision": "float32",
                "samples": scored["config"]["samples"]},  # compare refuses other counts
        dataset=scored["dataset"])
    results.update(status="complete", classifier=scored["classifier"],
                   metrics=scored["metrics"], floor=scored["floor"])
    results["runs"] = [schema.new_run(
        "ae", 0, final={"fid": 50.0, "modes_covered": 9.0}, steps_done=20,
        curves={"step": [10, 20], "fid": [80.0, 50.0]},
        losses={"step": [1, 20], "recon": [0.5, 0.2]},
        throughput={"images_per_s": 900.0, "batch_size": 32, "backend": "tensorflow"})]
    return results


@pytest.mark.slow
def test_scored_seeds_sit_beside_a_trained_run_in_compare(tmp_path, digits):
    reference = metrics.build_reference(digits, n=200)
    pool = reference.holdout_index
    for seed in range(3):  # three disjoint draws of real held-out images: three "seeds"
        np.savez(tmp_path / f"a{seed}.npz", as_uint8(digits.x_train[pool[200 * seed:][:200]]))
    proc = cli("score", *[str(tmp_path / f"a{s}.npz") for s in range(3)], "--name", "mine",
               "--dataset", "digits", "--out", str(tmp_path / "mine"), timeout=600)
    assert proc.returncode == 0, proc.stderr
    scored = schema.load(tmp_path / "mine")
    assert [(r["model"], r["seed"]) for r in scored["runs"]] == [("mine", s) for s in range(3)]
    (tmp_path / "ours").mkdir()
    schema.write(tmp_path / "ours" / "results.json", trained_record(scored))
    report = compare([str(tmp_path / "mine"), str(tmp_path / "ours")],
                     str(tmp_path / "both")).read_text()
    mean = np.mean([r["final"]["fid"] for r in scored["runs"]])
    # three seeds: one row, its mean and interval over seeds, the best FID (real images)
    assert f"| mine@mine | 3 | **{fmt(mean, 'fid')} [" in report
    assert "| ae@ours | 1 |" in report
    assert "## Throughput" in report and "| ae@ours | tensorflow |" in report
    assert "mine: " in report and "scored samples, nothing trained" in report
    assert "mine@mine seed 2: samples scored from" in report


def test_a_scored_record_renders_without_training_sections_and_old_ones_keep_them():
    from reports import render

    results = schema.new_results(
        command="python -m benchmarks score a.npz", environment={"backend": "tensorflow"},
        config={"models": ["mine"], "dataset": "digits", "preset": "score", "seeds": 1,
                "samples": 500},
        dataset={"name": "digits", "train_size": 1437, "test_size": 360,
                 "class_names": [str(i) for i in range(10)], "image_shape": [28, 28, 1]})
    results.update(status="complete", classifier={"test_accuracy": 0.99, "gate": 0.95},
                   metrics={"fid": schema.metric_info("FID", "Frechet distance", "lower",
                                                     summary=1, verdict=1)},
                   floor={"fid": 4.0})
    results["runs"] = [schema.new_run(
        "mine", 0, final={"fid": 7.5}, figures={"samples_final": "figures/mine-s0.png"},
        source={"kind": "samples", "path": "a.npz", "format": "npz", "range": "uint8 [0, 255]",
                "count": 500})]
    text = render(schema.validate(results))
    assert "| mine | 1 | 7.50 |" in text and "| *real data (floor)* |  | *4.00* |" in text
    assert "seed 0, scored samples" in text and "**scored samples**, nothing trained" in text
    # the record's text, its brackets escaped (Markdown shows uint8 [0, 255])
    assert ("mine seed 0: samples scored from a.npz (npz; uint8 \\[0, 255\\]; 500 images); "
            "nothing was trained.") in text
    for absent in ("## Throughput", "## Curves", "preset **score**"):
        assert absent not in text
    trained = render(schema.load(ROOT / "tests" / "fixtures" / "v1-digits"))
    assert "## Throughput" in trained and "## Curves" in trained


@pytest.mark.slow
def test_a_built_in_generator_saved_as_keras_draws_the_samples_its_model_draws(tmp_path, digits):
    from benchmarks.harness import build

    model = build("dcgan", seed=0, image_shape=digits.image_shape)
    model.sampling_network("generator").save(tmp_path / "dcgan.keras")
    got = samples.read(tmp_path / "dcgan.keras", digits.image_shape,
                       samples.Options(n=200, seed=12345))
    np.testing.assert_allclose(got.images, model.sample(200, 12345), atol=1e-5)
