"""Records of older schema versions, upgraded on load to the current one (reports/schema.py),
so a report of an old run renders as it did. Each step fills in what that version did not store
with what was then true; fields too broken to migrate are left for schema.validate to name.

Imports nothing of the schema (which imports this): the run key it needs is passed in.
"""

import copy
from collections.abc import Callable

from reports.typecheck import is_a

OLDER_VERSIONS = (1, 2)
V1_IMAGE_SHAPE = [28, 28, 1]  # every schema-1 dataset was 28x28 grayscale
V1_TARGET = 1.0  # schema 1 stored no target: every "target" metric then aimed at 1
# Where the report placed each metric before schema 3 stored it with the metric: for migrating
# records of versions 1 and 2 only, so they render as they did. Never extended: a new metric
# describes itself in metrics/info.py, and the run writes that into the record.
V2_SHORT = {"fid": "FID", "kid": "KID", "modes_covered": "modes", "kl_classes": "KL",
            "precision": "prec", "recall": "recall", "coverage": "cover", "ndb": "NDB",
            "recon_psnr": "PSNR"}
V2_SECTIONS = {**dict.fromkeys(["modes_covered", "kl_classes", "ndb", "ndb_js"], "mode_collapse"),
               **dict.fromkeys(["precision", "recall", "density", "coverage",
                                "pairwise_distance_ratio", "memorization"], "diversity")}
V2_COUNTS = ("modes_covered", "ndb")
V2_SUMMARY = ("fid", "kid", "modes_covered", "kl_classes", "precision", "recall", "coverage",
              "ndb", "recon_psnr")
V2_VERDICT = ("fid", "kid", "fid_logits", "classifier_score", "recon_mse")


def upgrade(results: dict, run_key: Callable[[str, dict, int], str]) -> dict:
    """A schema-1 or -2 record as a current one (a migrated copy; the input is left alone)."""
    if results.get("schema_version") == 1:
        results = migrate_v1(results, run_key)
    return migrate_v2(results)


def migrate_v1(results: dict, run_key: Callable[[str, dict, int], str]) -> dict:
    """Schema 1 -> 2. Runs gain key, overrides {} and weights_scored "raw" (schema 1 had no
    sweeps and no weight averaging); the dataset gains image_shape [28, 28, 1]; "target"
    metrics gain target 1. Fields too broken to migrate are left for validate to name."""
    out = copy.deepcopy(results)
    out["schema_version"] = 2
    if isinstance(out.get("dataset"), dict):
        out["dataset"].setdefault("image_shape", list(V1_IMAGE_SHAPE))
    metrics = out.get("metrics") if isinstance(out.get("metrics"), dict) else {}
    for info in metrics.values():
        if isinstance(info, dict) and info.get("direction") == "target":
            info.setdefault("target", V1_TARGET)
    runs = out.get("runs") if isinstance(out.get("runs"), list) else []
    for run in (r for r in runs if isinstance(r, dict)):
        run.setdefault("overrides", {})
        run.setdefault("weights_scored", "raw")
        if isinstance(run.get("model"), str) and is_a(run.get("seed"), int):
            run.setdefault("key", run_key(run["model"], {}, run["seed"]))
    return out


def migrate_v2(results: dict) -> dict:
    """Schema 2 -> 3. Each metric gains the places the report's code then gave it by key
    (V2_SHORT ... V2_VERDICT), so an old record renders as it did. Fields too broken to migrate
    are left for validate to name."""
    out = copy.deepcopy(results)
    out["schema_version"] = 3
    metrics = out.get("metrics") if isinstance(out.get("metrics"), dict) else {}
    for key, info in metrics.items():
        if not isinstance(info, dict):
            continue
        info.setdefault("short", V2_SHORT.get(key) or info.get("label"))
        info.setdefault("section", V2_SECTIONS.get(key))
        info.setdefault("count", key in V2_COUNTS)
        info.setdefault("summary", V2_SUMMARY.index(key) + 1 if key in V2_SUMMARY else None)
        info.setdefault("verdict", V2_VERDICT.index(key) + 1 if key in V2_VERDICT else None)
    return out
