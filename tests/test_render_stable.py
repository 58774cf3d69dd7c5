"""The report of a results.json written before a change renders to the same bytes after it.

tests/fixtures/v1-digits/results.json was written by `python -m benchmarks run --dataset digits
--preset smoke --models dcgan,gan,ae --seeds 2` (schema 1), and report.md beside it was
rendered from it by that same code in a folder holding no figures, so neither depends on
images. tests/fixtures/v2-digits is the same for schema 2 (`--preset smoke --dataset digits`,
one seed, with the FID interval), its report rendered by the last code that wrote schema 2,
when the report still placed metrics by its own tables of keys.

Two lines of each report.md were re-rendered when a record's strings became Markdown text
(reports.format.text): the descriptions holding ">=" and "[-1, 1]" now read "&gt;=" and
"\\[-1, 1\\]", which a Markdown viewer shows as before (the same HTML).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import reports
from reports import schema

FIXTURES = [Path(__file__).parent / "fixtures" / name for name in ("v1-digits", "v2-digits")]


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.name)
def test_stored_record_renders_byte_identical(fixture, tmp_path):
    shutil.copy(fixture / "results.json", tmp_path / "results.json")
    results = schema.load(tmp_path)
    text = reports.render(results, tmp_path)
    assert text.encode("utf-8") == (fixture / "report.md").read_bytes()


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.name)
def test_migrated_record_written_as_current_renders_byte_identical(fixture, tmp_path):
    """Schema 1 or 2 -> 3 -> written -> loaded again: the report does not change."""
    migrated = schema.load(fixture)
    schema.write(tmp_path / "results.json", migrated)
    written = json.loads((tmp_path / "results.json").read_text())
    assert written["schema_version"] == schema.SCHEMA_VERSION
    text = reports.render(schema.load(tmp_path), tmp_path)
    assert text.encode("utf-8") == (fixture / "report.md").read_bytes()
