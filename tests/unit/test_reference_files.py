"""Reading the reference files an operator edits (chiso/reference/load.py): what is wrong with
the files themselves is reported all at once, each problem with its file and row; what is
wrong with their values is the GX suites' (tests/e2e/test_reference_data.py)."""

from __future__ import annotations

import csv
import io
import shutil
import unicodedata
from pathlib import Path

import pytest

from chiso.core.config import REFERENCE_DIR
from chiso.reference.files import REFERENCE_FILES, catalogue_codes
from chiso.reference.load import ReferenceFileError, read_folder


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for spec in REFERENCE_FILES:
        shutil.copy2(REFERENCE_DIR / spec.file_name, tmp_path / spec.file_name)
    return tmp_path


def test_the_projects_files_read_whole(folder):
    refset = read_folder(REFERENCE_DIR)
    assert set(refset.rows) == {f.table for f in REFERENCE_FILES}
    for spec in REFERENCE_FILES:
        lines = (REFERENCE_DIR / spec.file_name).read_text(encoding="utf-8").splitlines()
        assert len(refset.rows[spec.table]) == len([line for line in lines[1:] if line])
    # the same bytes elsewhere give the same version
    assert read_folder(folder).fingerprint == refset.fingerprint
    assert "dossier.online_rate_l34" in catalogue_codes()


def test_a_folder_made_before_a_file_was_added_loads_it_empty(folder):
    """A deployment's folder from `chiso reference init` of an earlier version lacks the files
    added since (the declared breaks): they load as no rows; any other file is required."""
    (folder / "ref_indicator_breaks.csv").unlink()
    refset = read_folder(folder)
    assert refset.rows["indicator_breaks"] == []
    assert "ref_indicator_breaks.csv" not in refset.digests
    assert [s.file_name for s in REFERENCE_FILES if s.optional] == ["ref_indicator_breaks.csv"]
    # the project's own declares NĐ 42/2022/NĐ-CP, in force from 1 August 2022
    breaks = read_folder(REFERENCE_DIR).rows["indicator_breaks"]
    assert {values[2] for _, values in breaks} == {"2022-08-01"}
    assert all("NĐ 42/2022/NĐ-CP" in (values[4] or "") for _, values in breaks)


def test_excel_habits_are_accepted_and_change_only_the_digest(folder):
    """A byte-order mark (Excel's UTF-8 CSV), columns in another order, a blank line."""
    path = folder / "ref_holiday_overrides.csv"
    header, *rows = path.read_text(encoding="utf-8").splitlines()
    names = header.split(",")
    reordered = [names[1], names[0], *names[2:]]
    text = ",".join(reordered) + "\n"
    for row in rows:
        values = next(csv.reader(io.StringIO(row)))
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerow([values[1], values[0], *values[2:]])
        text += out.getvalue() + "\n"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    before = read_folder(REFERENCE_DIR)
    after = read_folder(folder)
    assert after.rows["holiday_overrides"] == [
        (2 * i + 2, values) for i, (_, values) in enumerate(before.rows["holiday_overrides"])
    ]
    assert after.fingerprint != before.fingerprint


def test_every_problem_of_the_files_is_named_with_file_and_row(folder):
    (folder / "ref_annual_index_values.csv").unlink()
    agencies = folder / "ref_agencies.csv"
    lines = agencies.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3] + ",an extra field"
    decomposed = unicodedata.normalize("NFD", "Sở Tư pháp")
    lines[5] = lines[5].replace(lines[5].split(",")[1], decomposed, 1)
    agencies.write_text("\n".join(lines) + "\n", encoding="utf-8")
    targets = folder / "ref_indicator_targets.csv"
    targets.write_text(
        targets.read_text(encoding="utf-8").replace("target_value", "target"), encoding="utf-8"
    )
    lineage = folder / "ref_agency_lineage.csv"
    lineage.write_bytes(lineage.read_bytes() + b"agy:x,agy:y,whole,2025-07-01,\xff\n")
    with pytest.raises(ReferenceFileError) as raised:
        read_folder(folder)
    problems = raised.value.problems
    assert "ref_annual_index_values.csv: missing from" in problems[-1]
    assert any(p.startswith("ref_agencies.csv row 4: 12 fields") for p in problems), problems
    assert any(
        p.startswith("ref_agencies.csv row 6, agency_name: not in Unicode NFC") for p in problems
    ), problems
    assert any(
        p.startswith("ref_indicator_targets.csv row 1: missing column(s) target_value;")
        and "unknown column(s) target" in p
        for p in problems
    ), problems
    rows = len(lineage.read_bytes().splitlines())
    assert f"ref_agency_lineage.csv row {rows}: not UTF-8" in " ".join(problems), problems
    assert len(problems) == 5


def test_a_changed_break_touches_its_months_only():
    """A break changes no number: a load that adds one rebuilds its months, not the history."""
    from datetime import date

    from chiso.reference.changes import touched_days
    from chiso.reference.files import BY_TABLE

    rows = [{"break_month": date(2022, 8, 1)}, {"break_month": date(2023, 2, 1)}]
    assert touched_days(BY_TABLE["indicator_breaks"], rows) == (
        date(2022, 8, 1),
        date(2023, 2, 28),
    )
