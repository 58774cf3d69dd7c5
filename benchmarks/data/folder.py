"""Image folders: one sub-folder per class of PNG/JPEG images (the layout of
``keras.utils.image_dataset_from_directory`` and torchvision's ``ImageFolder``).

Split: ``PATH/train/<class>/`` + ``PATH/test/<class>/`` when both exist; otherwise a seeded
stratified hold-out of ``HOLDOUT_FRACTION`` (20 %) of each class's images (at least one) for
the test split, the rest for training. Images are decoded with Pillow; without an image size
they must all share one size; without a channel count they load grayscale when every image is
stored grayscale, else RGB. Every bad input is one line naming the file or folder and the fix.
"""

from __future__ import annotations

import re
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from benchmarks.data import folder_cache
from benchmarks.data.spec import DataError

EXTENSIONS = (".png", ".jpg", ".jpeg")
HOLDOUT_FRACTION = 0.2  # of each class's images, for the test split, when there is no test/
HOLDOUT_SEED = 0
GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
# the modes Pillow opens a 16-bit grayscale PNG in (its values are 0..65535)
WIDE_GRAY_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N"}


def short_name(root: Path) -> str:
    """A file-name-safe name for caches and run folders: folder-<the folder's name>."""
    return "folder-" + (re.sub(r"[^A-Za-z0-9._-]+", "-", root.resolve().name) or "root")


def image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*")
                  if p.suffix.lower() in EXTENSIONS and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def _classes(folder: Path, root: Path) -> dict[str, list[Path]]:
    subs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    for p in subs:
        _refuse_link_into(p, root)
    return {p.name: image_files(p) for p in subs}


def _refuse_link_into(sub: Path, root: Path) -> None:
    """A class folder that is a link to the image folder, a folder inside it or one above it
    (``loop -> .``) would make a class of other classes' images (or the same images in both
    splits): refused. A link to images outside the folder is a class like any other."""
    if not sub.is_symlink():
        return
    target, top = sub.resolve(), root.resolve()
    if target == top or top in target.parents or target in top.parents:
        raise DataError(f"class folder {sub} is a link back into the image folder (to "
                        f"{target}); its images would be counted again as another class: "
                        "remove the link")


def _refuse_counted_twice(splits: dict[str, dict[str, list[Path]]]) -> None:
    """An image file that is a link to another the folder holds (another class's, or one in
    the other split) would be counted twice, in both places: refused, naming the link. A link
    to an image outside the folder is an image like any other."""
    seen: dict[Path, tuple[Path, str]] = {}
    for split, classes in splits.items():
        for name, files in classes.items():
            where = name if split == "all" else f"{split}/{name}"
            for path in files:
                real = path.resolve()
                if real not in seen:
                    seen[real] = (path, where)
                    continue
                (link, at), (other, other_at) = sorted([(path, where), seen[real]],
                                                       key=lambda f: not f[0].is_symlink())
                raise DataError(f"image {link} is a link to {real}, which the folder also "
                                f"holds as {other}; it would be counted twice (class {at} and "
                                f"class {other_at}): remove the link")


def scan(root: Path) -> tuple[dict[str, dict[str, list[Path]]], str]:
    """{split: {class: files}} and how the split was made; every layout error is one line."""
    if not root.exists():
        raise DataError(f"image folder {root} does not exist; pass a folder holding one "
                        "sub-folder of PNG/JPEG images per class")
    if not root.is_dir():
        raise DataError(f"{root} is not a folder; pass a folder holding one sub-folder of "
                        "PNG/JPEG images per class")
    if (root / "train").is_dir() and (root / "test").is_dir():
        splits = {s: _classes(root / s, root) for s in ("train", "test")}
        how = "its own train/ and test/ folders"
    else:
        splits = {"all": _classes(root, root)}
        how = (f"a stratified hold-out of {HOLDOUT_FRACTION:.0%} of each class "
               f"(seed {HOLDOUT_SEED})")
    for split, classes in splits.items():
        where = root / split if split != "all" else root
        if not any(classes.values()):
            raise DataError(f"image folder {where} holds no PNG/JPEG images in class "
                            f"sub-folders; put each class's images in {where}/<class>/")
        empty = [c for c, files in classes.items() if not files]
        if empty:
            raise DataError(f"class folder {where / empty[0]} holds no PNG/JPEG images; "
                            "add images or remove the folder")
        if len(classes) < 2:
            raise DataError(f"image folder {where} holds one class ({next(iter(classes))}); "
                            "a benchmark needs at least two class sub-folders")
    if "train" in splits and set(splits["train"]) != set(splits["test"]):
        only = sorted(set(splits["train"]) ^ set(splits["test"]))
        raise DataError(f"{root}/train and {root}/test hold different classes "
                        f"(in one only: {', '.join(only)}); give both the same class folders")
    _refuse_counted_twice(splits)
    if "all" in splits:
        few = [c for c, files in splits["all"].items() if len(files) < 2]
        if few:
            raise DataError(f"class folder {root / few[0]} holds one image; the hold-out needs "
                            "at least two per class (or give train/ and test/ folders)")
        splits = _hold_out(splits["all"])
    return splits, how


def _hold_out(classes: dict[str, list[Path]]) -> dict[str, dict[str, list[Path]]]:
    rng = np.random.default_rng(HOLDOUT_SEED)
    train, test = {}, {}
    for name, files in classes.items():
        order = rng.permutation(len(files))
        n_test = max(1, round(HOLDOUT_FRACTION * len(files)))
        test[name] = [files[i] for i in sorted(order[:n_test])]
        train[name] = [files[i] for i in sorted(order[n_test:])]
    return {"train": train, "test": test}


@contextmanager
def _opened(path: Path):
    """Pillow's image, opened with its decompression-bomb limit as a refusal: above
    ``Image.MAX_IMAGE_PIXELS`` Pillow only warns (and errs above twice that), and decoding
    such a file takes gigabytes."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as im:
                yield im
        except (Image.DecompressionBombWarning, Image.DecompressionBombError):
            raise DataError(f"image file {path} is {_size_of(path)} pixels, over Pillow's "
                            f"decompression-bomb limit of {Image.MAX_IMAGE_PIXELS:,} pixels; "
                            "shrink or remove it") from None


def _size_of(path: Path) -> str:
    """WxH from the file's header, read without Pillow's limit (only the header is read)."""
    from PIL import Image

    limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        with Image.open(path) as im:
            return f"{im.size[0]}x{im.size[1]}"
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def read_headers(files: list[Path]) -> list[tuple[tuple[int, int], str]]:
    """(width, height) and mode of each image: Pillow reads only the header here."""
    from PIL import UnidentifiedImageError

    out = []
    for path in files:
        try:
            with _opened(path) as im:
                out.append((im.size, im.mode))
        except (UnidentifiedImageError, OSError, ValueError) as e:
            raise DataError(f"corrupt image file {path} ({e}); replace or remove it") from None
    return out


def choose_shape(files, headers, image_size, channels) -> tuple[tuple[int, int] | None, int]:
    sizes = {size for size, _ in headers}
    size = None
    if image_size is None and len(sizes) > 1:
        by_size = {}
        for path, (s, _) in zip(files, headers, strict=True):
            by_size.setdefault(s, path)
        (s1, p1), (s2, p2) = list(by_size.items())[:2]
        raise DataError(f"images differ in size ({len(sizes)} sizes, e.g. {p1} is "
                        f"{s1[0]}x{s1[1]}, {p2} is {s2[0]}x{s2[1]}); pass --image-size N to "
                        "resize them all to NxN")
    if image_size is not None:
        size = (image_size, image_size)
    if channels is None:
        channels = 1 if all(mode in GRAY_MODES for _, mode in headers) else 3
    return size, channels


def to_8_bits(values: np.ndarray) -> np.ndarray:
    """16-bit grayscale (0..65535) to the nearest 8-bit value: round(v / 257), so 257 k is k
    exactly and 65535 is 255."""
    return np.round(np.clip(values, 0, 65535) / 257.0).astype(np.uint8)


def decode(path: Path, size, channels: int) -> np.ndarray:
    from PIL import Image

    try:
        with _opened(path) as im:
            if im.mode in WIDE_GRAY_MODES:  # Pillow's convert("L") clips these at 255
                im = Image.fromarray(to_8_bits(np.asarray(im)), "L")
            return to_shape(im, size, channels)  # decodes the whole file
    except (OSError, ValueError, SyntaxError) as e:
        raise DataError(f"corrupt image file {path} ({e}); replace or remove it") from None


def to_shape(im, size: tuple[int, int] | None, channels: int) -> np.ndarray:
    """A Pillow image as uint8 H x W x ``channels`` at ``size`` (W, H; None: its own): gray
    by Pillow's convert("L") (ITU-R 601-2 luma), then a bilinear resize. The one rule for an
    image folder's images and for ``score``'s 8-bit samples under --image-size/--channels."""
    from PIL import Image

    im = im.convert("L" if channels == 1 else "RGB")
    if size is not None and im.size != size:
        im = im.resize(size, Image.Resampling.BILINEAR)
    arr = np.asarray(im, dtype=np.uint8)
    return arr.reshape(arr.shape[0], arr.shape[1], channels)


def read_folder(root: Path, *, image_size: int | None = None, channels: int | None = None,
                cache_dir=None) -> tuple[dict[str, np.ndarray], tuple[str, ...], str, str]:
    """(arrays uint8 NHWC + int64 labels, class names, checksum, how it was split)."""
    splits, how = scan(root)
    class_names = tuple(sorted(splits["train"]))
    files = [p for split in ("train", "test") for c in class_names for p in splits[split][c]]
    settings = {"image_size": image_size, "channels": channels, "how": how}
    entry = folder_cache.cache_root(cache_dir) / (
        folder_cache.content_key(files, root, settings) + ".npz")
    cached = folder_cache.read(entry)
    if cached is not None and cached[1] == class_names:
        return cached[0], class_names, cached[2], how
    headers = read_headers(files)
    size, channels = choose_shape(files, headers, image_size, channels)
    arrays = {}
    for split in ("train", "test"):
        paths = [p for c in class_names for p in splits[split][c]]
        labels = [i for i, c in enumerate(class_names) for _ in splits[split][c]]
        arrays[f"x_{split}"] = np.stack([decode(p, size, channels) for p in paths])
        arrays[f"y_{split}"] = np.asarray(labels, dtype=np.int64)
    checksum = folder_cache.write(entry, arrays, class_names)
    return arrays, class_names, checksum, how
