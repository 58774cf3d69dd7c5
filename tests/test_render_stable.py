"""The report of a results.json written before a change renders to the same bytes after it.

tests/fixtures/v1-digits/results.json was written by `python -m benchmarks run --dataset digits
--preset smoke --models dcgan,gan,ae --seeds 2` (schema 1), and report.md beside it was
rendered from it by that same code in a folder holding no figures, so neither depends on
images.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import reports
from reports import schema

FIXTURE = Path(__file__).parent / "fixtures" / "v1-digits"


def test_stored_record_renders_byte_identical(tmp_path):
    shutil.copy(FIXTURE / "results.json", tmp_path / "results.json")
    results = schema.load(tmp_path)
    text = reports.render(results, tmp_path)
    assert text.encode("utf-8") == (FIXTURE / "report.md").read_bytes()


def test_migrated_record_written_as_v2_renders_byte_identical(tmp_path):
    """Schema 1 -> 2 -> written -> loaded again: the report does not change."""
    migrated = schema.load(FIXTURE)
    schema.write(tmp_path / "results.json", migrated)
    assert json.loads((tmp_path / "results.json").read_text())["schema_version"] == 2
    text = reports.render(schema.load(tmp_path), tmp_path)
    assert text.encode("utf-8") == (FIXTURE / "report.md").read_bytes()
