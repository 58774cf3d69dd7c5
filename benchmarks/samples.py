"""SAMPLES for ``score``: images made anywhere, read into float32 [-1, 1] NHWC images of the
dataset's shape, or one line (UserError, exit 2) saying what is wrong, before any scoring.

What SAMPLES may be (``kind_of``):

- ``.npz``: ADM's batches (``arr_0``) or an archive holding a single array; ``.npy``: one
  array. N x H x W x C, or N x H x W for grayscale.
- a folder of PNG/JPEG images, searched recursively (no labels; hidden files skipped),
  decoded by the image-folder dataset's own reader (``benchmarks.data.folder``).
- ``.keras``: a generator saved with Keras (one input of noise, one output of images): it
  draws ``n`` images from standard normal noise of its input's shape, seeded.

The value range is a rule, never a guess that can go silently wrong (``to_unit_range``):
uint8 is [0, 255]; other integers need ``--range 0,255`` (or ``0,65535``: 16 bits, rounded to
8 as 16-bit PNGs are, ``folder.to_8_bits``); floats are [-1, 1] when every value
lies in [-1, 1] and some lie below 0, and otherwise must say ``--range -1,1``, ``0,1`` or
``0,255``; a generator's output is [-1, 1] (the export contract) unless ``--range`` says
otherwise. Values outside the stated range are refused, not clipped.

Shapes are not fixed silently either: images of another size or channel count than the
dataset's are refused naming both shapes, unless ``--image-size``/``--channels`` ask for the
resize/conversion (``reshape``), which is then done as the image-folder dataset does it: 8-bit
samples by its own function (``folder.to_shape``), floats off the 8-bit grid (a generator's)
by the same rule in float, unrounded.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.data import folder
from benchmarks.data.spec import to_unit_range as _uint8_to_unit
from benchmarks.errors import UserError

RANGES = {"-1,1": (-1.0, 1.0), "0,1": (0.0, 1.0), "0,255": (0.0, 255.0),
          "0,65535": (0.0, 65535.0)}
# float32 round-off of a tanh or of x / 127.5 - 1 reaches a few ulps past the stated ends
RANGE_TOLERANCE = 1e-5  # of the range's width
GENERATOR_BATCH = 500  # images per generator call: bounded memory, few calls
DEFAULT_GENERATED = 10000  # what a generator draws without --samples (the convention)
ADM_KEY = "arr_0"


@dataclass(frozen=True)
class Samples:
    images: np.ndarray  # float32 (N, H, W, C) in [-1, 1], the dataset's shape
    path: str
    format: str  # "npz", "npy", "folder" or "keras"
    value_range: str  # the rule that applied, e.g. "uint8 [0, 255]"
    note: str = ""  # what else was done to them (resized, converted, generated with a seed)

    def source(self) -> dict:
        """The results.json record of where these samples came from (``Run.source``)."""
        out = {"kind": "samples", "path": self.path, "format": self.format,
               "range": self.value_range, "count": int(len(self.images))}
        if self.note:
            out["note"] = self.note
        return out


def kind_of(path: Path) -> str:
    if path.is_dir():
        return "folder"
    if path.suffix.lower() in (".npz", ".npy", ".keras") and path.is_file():
        return path.suffix.lower()[1:]
    if not path.exists():
        raise UserError(f"samples {path} do not exist; pass a .npz, .npy or .keras file or a "
                        "folder of PNG/JPEG images")
    raise UserError(f"samples {path}: '{path.suffix or path.name}' is not a format score reads; "
                    "pass a .npz, .npy or .keras file or a folder of PNG/JPEG images")


@dataclass(frozen=True)
class Options:
    """How SAMPLES are read: the flags of ``score`` that shape them."""

    value_range: str | None = None  # a key of RANGES; None: the rule in the module doc
    n: int | None = None  # a generator draws n (default 10,000); files: their first n
    seed: int = 0  # a generator's noise seed
    image_size: int | None = None  # resize to NxN (else another size is an error)
    channels: int | None = None  # convert to 1 or 3 channels (else another count is an error)

    def __post_init__(self):
        """Every field checked, for the Python API (the command line's types check its flags
        first): a wrong one is a UserError naming it and what it takes."""
        if self.value_range is not None and self.value_range not in RANGES:
            raise UserError(f"value_range={self.value_range!r} is not a range score reads; "
                            f"pass one of {', '.join(map(repr, RANGES))} (or None: the rule)")
        for name, low, high, what in (("n", 1, None, "a count of images"),
                                      ("seed", 0, 2**32 - 1, "a noise seed"),
                                      ("image_size", 8, 1024, "pixels")):
            value = getattr(self, name)
            if value is None and name != "seed":
                continue
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise UserError(f"{name}={value!r} is not a whole number; pass an int, "
                                f"{what}")
            if not low <= value <= (high or value):
                limits = f"{low:,}..{high:,}" if high else f"at least {low:,}"
                raise UserError(f"{name}={value:,} is outside {limits}; pass {what} in it")
            object.__setattr__(self, name, int(value))
        if self.channels not in (None, 1, 3) or isinstance(self.channels, bool):
            raise UserError(f"channels={self.channels!r} is not a channel count; pass 1 or 3 "
                            "(or None: the samples' own)")

    @property
    def reshapes(self) -> bool:
        return self.image_size is not None or self.channels is not None


def read(path: str | Path, image_shape: tuple[int, int, int],
         options: Options = Options()) -> Samples:
    """``path`` as float32 [-1, 1] images of ``image_shape`` (H, W, C), or a UserError."""
    from metrics import MIN_SAMPLES

    path = Path(path)
    kind = kind_of(path)
    image_shape = tuple(int(d) for d in image_shape)
    notes = []
    if kind == "keras":
        images, rule = _generate(path, image_shape, options)
        notes.append(f"{len(images):,} images drawn from N(0, I) noise, seed {options.seed}")
    else:
        raw = _as_nhwc(_folder(path, options) if kind == "folder" else _array(path, kind),
                       path)  # first: a 0-d array has no first n
        if options.n is not None:
            if len(raw) < options.n:
                raise UserError(f"samples {path} hold {len(raw):,} images, fewer than --samples "
                                f"{options.n:,}; give more images or a smaller --samples")
            raw = raw[:options.n]
        images, rule = to_unit_range(raw, options.value_range, f"samples {path}")
    if len(images) < MIN_SAMPLES:
        raise UserError(f"samples {path} hold {len(images):,} images; the metrics need at least "
                        f"{MIN_SAMPLES} (10,000 for figures comparable with a run's)")
    images, done = reshape(images, image_shape, options, f"samples {path}")
    return Samples(images, str(path), kind, rule, "; ".join(notes + done))


# ---- reading --------------------------------------------------------------------------

def _array(path: Path, kind: str) -> np.ndarray:
    """The images of a .npy, or of a .npz's ``arr_0`` (or only array), each checked by its
    header before numpy allocates them (``_check_header``)."""
    _check_format(path, kind)
    where = f"samples {path}"
    try:
        if kind == "npy":
            with open(path, "rb") as f:
                _check_header(f, path.stat().st_size, where)
            return np.load(path, allow_pickle=False)
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            name = ADM_KEY if ADM_KEY in names else names[0] if len(names) == 1 else None
            if name is not None:
                member = name + ".npy"
                if member not in archive.zip.namelist():
                    raise ValueError(f"its entry {name} is not a .npy array")
                with archive.zip.open(member) as f:
                    _check_header(f, archive.zip.getinfo(member).file_size,
                                  f"{where} (array {name})")
                return archive[name]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise UserError(f"{where} are not a readable {kind} file ({e}); save them with "
                        f"{SAVER[kind]}") from None
    except MemoryError:
        raise UserError(f"{where} do not fit in memory; score fewer images at a time") from None
    shown = ", ".join(names[:5]) or "none"
    raise UserError(f"{where} hold {len(names)} arrays ({shown}) and none named "
                    f"{ADM_KEY}; save the images as {ADM_KEY} (numpy.savez(path, images)) or "
                    "alone in the file")


FORMAT_MAGIC = {"npy": b"\x93NUMPY", "npz": b"PK\x03\x04"}  # what numpy.save/savez write first
SAVER = {"npy": "numpy.save", "npz": "numpy.savez"}


def _check_format(path: Path, kind: str) -> None:
    """The file is what its name says: a .npy named .npz (or the reverse) is refused naming
    the right name, and a file of neither format saying how to write one."""
    with open(path, "rb") as f:
        head = f.read(6)
    actual = next((k for k, magic in FORMAT_MAGIC.items() if head.startswith(magic)), None)
    if actual == kind:
        return
    if actual is None:
        raise UserError(f"samples {path} are not a {kind} file (it does not begin as "
                        f"{SAVER[kind]} writes one); save the images with {SAVER[kind]}")
    raise UserError(f"samples {path} are a .{actual} file (as {SAVER[actual]} writes) named "
                    f".{kind}; rename it {path.with_suffix('.' + actual).name}")


def _check_header(f, size: int, where: str) -> None:
    """A .npy's header (read from ``f``, ``size`` bytes in all) against its data: pickled
    Python objects are refused (loading them runs code), and a shape the bytes cannot hold
    (a damaged or truncated file, or one whose header claims 10^9 images) is refused before
    numpy allocates it."""
    from numpy.lib import format as npy

    try:
        version = npy.read_magic(f)
        read = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
        shape, _, dtype = read(f)
    except ValueError as e:
        raise UserError(f"{where} have a damaged .npy header ({e}); save them again with "
                        "numpy.save") from None
    if dtype.hasobject:
        raise UserError(f"{where} hold Python objects ({dtype} array, stored pickled), which "
                        "score does not load; save the images as a number array "
                        "(numpy.asarray(images, numpy.uint8) or float32)")
    needed = int(np.prod(shape, dtype=object)) * dtype.itemsize
    held = size - f.tell()
    if held < needed:
        raise UserError(f"{where}: the header says {_shape_text(shape) or 'a scalar'} "
                        f"{dtype} values ({needed:,} bytes) but the file holds {held:,} bytes "
                        "of data; the file is truncated or damaged: save it again")


def _folder(path: Path, options: Options) -> np.ndarray:
    files = folder.image_files(path)  # sorted: --samples N takes the same first N each time
    if not files:
        raise UserError(f"samples folder {path} holds no PNG/JPEG images (searched "
                        "recursively); put the images in it or pass a .npz/.npy file")
    files = files[:options.n]  # all of them when n is None
    headers = folder.read_headers(files)  # an unreadable image: one line naming it
    size, channels = folder.choose_shape(files, headers, options.image_size, options.channels)
    return np.stack([folder.decode(p, size, channels) for p in files])


def _as_nhwc(raw: np.ndarray, path: Path) -> np.ndarray:
    if raw.ndim == 3:
        return raw[..., None]  # N x H x W: grayscale
    if raw.ndim == 4 and raw.shape[-1] in (1, 3):
        return raw
    if raw.ndim == 4 and raw.shape[1] in (1, 3):
        raise UserError(f"samples {path} have shape {raw.shape}, channels first (N, C, H, W); "
                        "save them channels last: images.transpose(0, 2, 3, 1)")
    raise UserError(f"samples {path} have shape {raw.shape}; give N x H x W x C images "
                    "(C 1 or 3) or N x H x W grayscale ones")


def _generate(path: Path, image_shape, options: Options) -> tuple[np.ndarray, str]:
    import keras

    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as e:  # Keras raises many types for a file it cannot rebuild
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"samples {path} cannot be loaded with keras.saving.load_model "
                        f"({first[:200]}); save the generator with model.save('{path.name}') "
                        "and register any custom layer with "
                        "@keras.saving.register_keras_serializable()") from None
    return generate(model, f"generator {path}", image_shape, options)


def generate(model, where: str, image_shape, options: Options) -> tuple[np.ndarray, str]:
    """``options.n`` images from a Keras generator fed seeded N(0, I) noise of its input's
    shape, in [-1, 1]; its output must be images of ``image_shape`` unless it reshapes."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UserError(f"{where} has {len(model.inputs)} inputs and {len(model.outputs)} "
                        "outputs; score takes a generator of one noise input and one image "
                        "output")
    noise_shape = tuple(model.inputs[0].shape[1:])
    if not noise_shape or any(d is None for d in noise_shape):
        raise UserError(f"{where}'s input shape {noise_shape} is not fully known; build it "
                        "with keras.Input((NOISE_DIM,)) so score knows what noise to draw")
    out_shape = tuple(model.outputs[0].shape[1:])
    as_image = out_shape + (1,) if len(out_shape) == 2 else out_shape
    wanted = tuple(image_shape)
    image_out = len(as_image) == 3 and as_image[-1] in (1, 3)
    if not image_out or (as_image != wanted and not options.reshapes):
        resize = (f" (or pass --image-size {wanted[0]} --channels {wanted[2]} to "
                  "resize/convert its output)") if image_out else ""
        raise UserError(f"{where} outputs {_shape_text(out_shape)}, not images of the "
                        f"dataset's shape {_shape_text(wanted)}; give a generator of "
                        f"{_shape_text(wanted)} images{resize}")
    n = options.n or DEFAULT_GENERATED
    rng = np.random.default_rng(options.seed)
    noise = rng.standard_normal((n, *noise_shape)).astype(np.float32)
    parts = [np.asarray(model.predict(noise[i:i + GENERATOR_BATCH], verbose=0), np.float32)
             for i in range(0, n, GENERATOR_BATCH)]
    images = np.concatenate(parts).reshape((n, *as_image))
    return to_unit_range(images, options.value_range, where, default="-1,1")


# ---- the range rule and the shape -----------------------------------------------------

def to_unit_range(images: np.ndarray, value_range: str | None, where: str, *,
                  default: str | None = None) -> tuple[np.ndarray, str]:
    """(float32 images in [-1, 1], the rule that applied), by the rule in the module doc;
    ``default``: the range read without --range (a generator's output, [-1, 1])."""
    if images.dtype == bool or images.dtype.kind not in "uif":
        raise UserError(f"{where} are {images.dtype} values; give uint8 pixels or floats")
    if images.size == 0:
        raise UserError(f"{where} hold no images (shape {images.shape})")
    if images.dtype.kind == "f":
        bad = ~np.isfinite(images)
        if bad.any():
            first = int(np.argmax(bad.reshape(len(images), -1).any(axis=1)))
            raise UserError(f"{where} hold {int(bad.sum()):,} NaN or infinite values (the "
                            f"first in image {first}); score finite images only")
    low, high = float(images.min()), float(images.max())
    span = f"[{low:g}, {high:g}]"
    if images.dtype == np.uint8:
        if value_range not in (None, "0,255"):
            raise UserError(f"{where} are uint8, which is [0, 255]; drop --range {value_range}")
        return _uint8_to_unit(images), "uint8 [0, 255]"
    if images.dtype.kind in "iu" and value_range is None:
        wide = "--range 0,65535 (16 bits)" if high > 255 else "--range 0,255"
        raise UserError(f"{where} are {images.dtype} values in {span}; store them as uint8 "
                        f"or say {wide}")
    given = value_range is not None
    value_range = value_range or default
    if value_range is None:
        if low >= -1.0 and high <= 1.0 and low < 0.0:
            value_range = "-1,1"
        else:
            raise UserError(f"{where} are floats in {span}, which does not say their range; "
                            "pass --range -1,1 or --range 0,1 (or --range 0,255)")
        rule = "[-1, 1] (floats with values below 0)"
    else:
        why = "--range" if given else "a generator's output without --range"
        rule = f"[{value_range.replace(',', ', ')}] ({why})"
    lo, hi = RANGES[value_range]
    slack = RANGE_TOLERANCE * (hi - lo)
    if low < lo - slack or high > hi + slack:
        raise UserError(f"{where} hold values in {span}, outside the range [{lo:g}, {hi:g}] "
                        f"{'you gave' if given else 'they are read in'}; "
                        "pass the --range they are in, or clip them (numpy.clip) first")
    if hi == 65535.0:  # 16 bits to the nearest 8-bit value, as 16-bit PNGs are read
        return _uint8_to_unit(folder.to_8_bits(images)), rule
    if images.dtype.kind in "iu" or hi == 255.0:
        scaled = images.astype(np.float64) / 127.5 - 1.0
    else:
        scaled = (images.astype(np.float64) - lo) * (2.0 / (hi - lo)) - 1.0
    return np.clip(scaled, -1.0, 1.0).astype(np.float32), rule


def reshape(images: np.ndarray, image_shape, options: Options, where: str
            ) -> tuple[np.ndarray, list[str]]:
    """The images at ``image_shape``: unchanged when they have it; resized/converted when
    ``--image-size``/``--channels`` ask (by the rule in the module doc); else a one-line
    error naming both shapes."""
    have = tuple(images.shape[1:])
    want = tuple(image_shape)
    if have == want:
        return images, []
    if not options.reshapes:
        raise UserError(f"{where} are {_shape_text(have)} images, the dataset's are "
                        f"{_shape_text(want)}; give images of the dataset's shape, or pass "
                        f"--image-size {want[0]} --channels {want[2]} to resize/convert them")
    done = []
    if have[2] != want[2]:
        done.append(f"converted from {have[2]} to {want[2]} channels")
    if have[:2] != want[:2]:
        done.append(f"resized from {have[0]}x{have[1]} to {want[0]}x{want[1]}")
    pixels = (images + np.float32(1.0)) * np.float32(127.5)
    if np.abs(pixels - np.round(pixels)).max() < 1e-3:  # 8-bit images: as an image folder's
        return _as_folder_does(np.round(pixels).astype(np.uint8), want), done
    return _in_float(images, have, want), done


def _as_folder_does(pixels: np.ndarray, want) -> np.ndarray:
    from PIL import Image

    size = (want[1], want[0])
    return _uint8_to_unit(np.stack([
        folder.to_shape(Image.fromarray(p[..., 0] if p.shape[-1] == 1 else p), size, want[2])
        for p in pixels]))


def _in_float(images: np.ndarray, have, want) -> np.ndarray:
    """Floats off the 8-bit grid (a generator's): the image folder's rule (luma, bilinear)
    done in float, without rounding to 8 bits."""
    from PIL import Image

    if have[2] != want[2]:
        if want[2] == 1:  # ITU-R 601-2 luma, as Pillow's convert("L") in the folder reader
            images = images @ np.array([0.299, 0.587, 0.114], np.float32)[:, None]
        else:
            images = np.repeat(images, 3, axis=-1)
    if have[:2] != want[:2]:
        size = (want[1], want[0])
        images = np.stack([
            np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(im[..., c]), "F")
                                 .resize(size, Image.Resampling.BILINEAR))
                      for c in range(im.shape[-1])], axis=-1) for im in images])
    return np.clip(images, -1.0, 1.0).astype(np.float32)


def _shape_text(shape) -> str:
    return "x".join(str(d) for d in shape)
