"""The argparse types: each turns one flag's text into a checked value or a one-line error."""

from __future__ import annotations

import argparse
import os

from benchmarks import data
from benchmarks.config import check_models
from benchmarks.errors import UserError

MAX_STEPS = 10_000_000  # 640M images at batch 64: beyond any study; catches typos
MAX_EPOCHS = 10_000
MAX_SEEDS = 1_000
MAX_SAMPLES = 1_000_000
ROOM_INSIDE = 256  # bytes a run folder's own paths add below it (checkpoints/<tag>/<file>)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def int_in(low: int, high: int, why: str = ""):
    """An argparse type for a whole number in [low, high]; the message says the range."""
    def parse(text: str) -> int:
        value = positive_int(text) if low >= 1 else _whole(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value:,} is outside {low:,}..{high:,}{why}")
        return value
    return parse


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None


def dataset_name(text: str) -> str:
    """``--dataset``: a registered name, ``folder:PATH`` or a folder path (checked to exist)."""
    try:
        data.spec(text)
    except UserError as e:  # argparse turns this into the one-line error
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def tracker_names(text: str) -> str:
    """``--tracker``: tensorboard, mlflow, both comma-separated, or none; as one text."""
    from benchmarks import tracking

    try:
        return ",".join(tracking.parse(text)) or tracking.NONE
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def image_size(text: str) -> int:
    value = positive_int(text)
    if not 8 <= value <= 1024:
        raise argparse.ArgumentTypeError(f"{value} is outside 8..1024 pixels")
    return value


def percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not 0 < value <= 100:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text} must be a percentage in (0, 100]")
    return value


def csv_of(kind):
    """An argparse type for a non-empty comma-separated list of ``kind``."""
    def parse(text: str) -> list:
        try:
            values = [kind(x) for x in text.split(",") if x.strip()]
        except (ValueError, argparse.ArgumentTypeError):
            raise argparse.ArgumentTypeError(f"'{text}' is not a comma-separated list of "
                                             f"{getattr(kind, '__name__', 'values')}") from None
        if not values:
            raise argparse.ArgumentTypeError("the list is empty")
        return values
    return parse


def model_names(text: str) -> list[str]:
    """``--models``: a comma-separated list of registered names, or ``all``."""
    from models import registry

    names = [n.strip() for n in text.split(",") if n.strip()]
    if names == ["all"]:
        return registry.names()
    if not names:
        raise UserError("--models is empty; name at least one, e.g. --models dcgan,gan,ae")
    if len(set(names)) != len(names):
        raise UserError(f"--models names a model twice: {text}")
    check_models(names)
    return names


def out_dir(text: str) -> str:
    """``--out``: a folder path the system can hold, with room for the files a run writes in it
    (the OS would refuse it only when the first file is written). An empty one (a script's
    unset variable) is refused, not read as the default folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"{text!r} names no folder; give a folder path, or "
                                         "leave --out out for the default runs/<time>-<name>")
    path = os.path.abspath(text)
    existing = path
    while not os.path.isdir(existing):  # the limits are the file system's: ask the nearest
        existing = os.path.dirname(existing)
    name_max = _limit(existing, "PC_NAME_MAX", 255)
    for part in path.split(os.sep):
        size = len(os.fsencode(part))
        if size > name_max:
            raise argparse.ArgumentTypeError(
                f"the folder name '{part[:20]}...' is {size} bytes; at most {name_max} fit "
                "in one name here: choose a shorter one")
    size, path_max = len(os.fsencode(path)), _limit(existing, "PC_PATH_MAX", 4096) - ROOM_INSIDE
    if size > path_max:
        raise argparse.ArgumentTypeError(
            f"{path[:40]}... is {size} bytes; at most {path_max} fit here (the system's limit "
            "less room for the run's own files): choose a shorter path")
    return text


def _limit(folder: str, name: str, default: int) -> int:
    try:
        return os.pathconf(folder, name)
    except (OSError, ValueError):
        return default


def value_range(text: str) -> str:
    """``--range``: the value range of float samples, one of ``samples.RANGES``."""
    from benchmarks.samples import RANGES

    key = text.replace(" ", "")
    if key not in RANGES:
        raise argparse.ArgumentTypeError(f"'{text}' is not a range score reads; choose "
                                         f"{', '.join(RANGES)}")
    return key
