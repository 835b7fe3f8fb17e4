"""A national reference folder: the 34 provinces of 1 July 2025, each with its departments and a
few communes, for a deployment that pulls every province's systems (bench/national.py).

The project's own reference files (reference/) describe the demo's provinces through the 2025
restructuring, lineage and all. A national run needs every province but not their history:
this writes a reference folder valid from the restructuring day on, in the same files and
columns, from the same sources as the demo's seeds:

* the provinces and their communes (names and codes) from ``vietnam-provinces``, as
  chiso_sim/generate/seeds.py reads them;
* per province, the seven departments every merged province kept (``POST_DEPARTMENTS``), in
  the demo's identifier scheme (``000.00.NN.H<province code>``), and the committees of its
  first ``communes`` communes by code (``CCC.00.30.H<province code>``);
* the holidays and make-up days copied from the project's files (they are national);
* no lineage (nothing before the restructuring day), no targets and no annual indices: those
  come from each province's plans, which the project does not hold for the other provinces,
  and none is made up here.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Sequence
from pathlib import Path

from chiso.core.config import REFERENCE_DIR
from chiso.reference.files import REFERENCE_FILES
from chiso_sim.generate.seeds import (
    POST_DEPARTMENTS,
    RESTRUCTURING_DAY,
    agency_key,
    committee_name,
    nfc,
    province_style,
    unit_key,
)

# national, so copied whole from the project's files
COPIED = ("ref_public_holidays.csv", "ref_holiday_overrides.csv", "ref_indicator_breaks.csv")


def _province_name(province: object) -> str:
    from vietnam_provinces import VietNamDivisionType

    name = nfc(province.name)  # type: ignore[attr-defined]
    if name.startswith(("Thành phố", "Tỉnh")):
        return name
    city = province.division_type == VietNamDivisionType.THANH_PHO_TRUNG_UONG  # type: ignore[attr-defined]
    return f"{'Thành phố' if city else 'Tỉnh'} {name}"


def national_rows(
    communes: int = 2, first: int | None = None
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The units (provinces, then the communes kept) and agencies of every province (the
    `first` N only, a smaller run's), in province code order."""
    from vietnam_provinces import Province, Ward

    day = RESTRUCTURING_DAY.isoformat()
    units: list[dict[str, str]] = []
    agencies: list[dict[str, str]] = []
    for province in sorted(Province.iter_all(), key=lambda p: int(p.code))[:first]:
        code = f"{int(province.code):02d}"
        full = _province_name(province)
        style, short = province_style(full)
        pkey = unit_key("province", code, RESTRUCTURING_DAY)
        units.append(_unit(pkey, code, full, "province", "", day))
        for dept in POST_DEPARTMENTS:
            agencies.append(
                _agency(f"000.00.{dept.nn}.H{code}", f"{dept.name} {style} {short}",
                        "province_dept", code, short, day, pkey, "department")
            )  # fmt: skip
        wards = sorted(Ward.iter_by_province(province.code), key=lambda w: int(w.code))
        for n, ward in enumerate(wards[:communes], start=1):
            wcode = f"{int(ward.code):05d}"
            ckey = unit_key("commune", wcode, RESTRUCTURING_DAY)
            units.append(_unit(ckey, wcode, nfc(ward.name), "commune", pkey, day))
            agencies.append(
                _agency(f"{n:03d}.00.30.H{code}", committee_name(nfc(ward.name)), "commune",
                        code, short, day, ckey, "commune_committee")
            )  # fmt: skip
    return units, agencies


def _unit(key: str, code: str, name: str, level: str, parent: str, day: str) -> dict[str, str]:
    return {
        "unit_key": key,
        "unit_code": code,
        "unit_name": name,
        "unit_level": level,
        "parent_unit_key": parent,
        "valid_from": day,
        "valid_to": "",
        "code_system": "post_2025",
    }


def _agency(
    code: str, name: str, tier: str, province: str, short: str, day: str, ukey: str, kind: str
) -> dict[str, str]:
    return {
        "agency_code": code,
        "agency_name": name,
        "tier": tier,
        "province_code": province,
        "province_name": short,
        "parent_agency_code": "",
        "valid_from": day,
        "valid_to": "",
        "agency_key": agency_key(code, RESTRUCTURING_DAY),
        "unit_key": ukey,
        "agency_kind": kind,
    }


def write_folder(folder: Path, communes: int = 2, first: int | None = None) -> list[str]:
    """Write the national reference folder (every file the warehouse loads; the `first` N
    provinces only, for a smaller run); returns the province codes, in order."""
    folder.mkdir(parents=True, exist_ok=True)
    units, agencies = national_rows(communes, first)
    rows = {"ref_admin_units.csv": units, "ref_agencies.csv": agencies}
    for spec in REFERENCE_FILES:
        name = spec.file_name
        if name in COPIED:
            shutil.copyfile(REFERENCE_DIR / name, folder / name)
            continue
        _write(folder / name, spec.column_names, rows.get(name, []))
    return [u["unit_code"] for u in units if u["unit_level"] == "province"]


def _write(path: Path, columns: Sequence[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
