"""A month's inbox: every file the three systems' exports would drop for operators to load.

The formats and layouts are chosen per agency from the mix vendors deliver (its system does
not change month to month), over the per-file builders of chiso_sim.exports and the aggregate
reports of chiso_sim.aggregate.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from chiso.core.months import last_day
from chiso_sim import aggregate
from chiso_sim.exports import (
    NO_FAULTS,
    ExportOptions,
    FileFaults,
    Variant,
    file_extension,
    parse_temporal,
    write_export,
    write_file,
)

# (options, weight) per source: the mix of formats vendors deliver. Chosen once per agency
# (its system does not change month to month).
_DOSSIER_MIX: tuple[ExportOptions, ...] = (
    ExportOptions("xlsx", "vi", "text"),
    ExportOptions("xlsx", "vi", "datetime", two_row_header=True),
    ExportOptions("xlsx", "vi", "serial", sections=True, total_row=True),
    ExportOptions("xls", "vi", "text", total_row=True),
    ExportOptions("csv", "vi", "text", csv_delimiter=";", csv_bom=True),
    ExportOptions("csv", "dvcqg", "compact", csv_bom=False),
    ExportOptions("json", "dvcqg", "compact", json_wrapped=True),
    ExportOptions("json", "dvcqg", "iso"),
)
_DOCUMENT_MIX: tuple[ExportOptions, ...] = (
    ExportOptions("csv", "vi", "text", csv_delimiter=";"),
    ExportOptions("csv", "dvcqg", "iso", csv_bom=False),
    ExportOptions("xlsx", "vi", "datetime", sections=True),
    ExportOptions("xlsx", "vi", "text", two_row_header=True, total_row=True),
)
_CATALOGUE_OPTIONS = ExportOptions("xlsx", "vi", "text", sections=True, total_row=True)
_USAGE_MIX: tuple[ExportOptions, ...] = (
    ExportOptions("csv", "vi", "text", csv_delimiter=";"),
    ExportOptions("json", "dvcqg", "iso", json_wrapped=True),
    ExportOptions("xlsx", "vi", "datetime", two_row_header=True, total_row=True),
)


def _with_variant(options: ExportOptions, variants: Sequence[Variant]) -> ExportOptions:
    """Keep the option's variant if allowed, else the closest allowed one."""
    if options.variant in variants:
        return options
    fallback = next((v for v in ("vi", "upgraded", "dvcqg") if v in variants), "vi")
    return replace(options, variant=fallback)  # type: ignore[arg-type]


def _pick(
    mix: Sequence[ExportOptions],
    seed: int | str,
    source: str,
    who: str,
    variants: Sequence[Variant],
) -> ExportOptions:
    rng = random.Random(f"{seed}|{source}|{who}")
    options = mix[rng.randrange(len(mix))]
    if "upgraded" in variants and options.variant == "vi" and rng.random() < 0.3:
        options = replace(options, variant="upgraded")
    return _with_variant(options, variants)


def _by_agency(rows: Iterable[Mapping[str, Any]], key: str) -> dict[str, list[Mapping[str, Any]]]:
    out: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        out.setdefault(str(row.get(key) or ""), []).append(row)
    return dict(sorted(out.items()))


def _faults_for(faults: FileFaults, faulty: Callable[[str], bool] | None, name: str) -> FileFaults:
    if not faults.active:
        return faults
    return faults if faulty is None or faulty(name) else NO_FAULTS


def write_inbox(
    cfg: Any,
    month: date,
    inbox_dir: Path,
    *,
    variant_seed: int | str = 0,
    faults: FileFaults = NO_FAULTS,
    faulty: Callable[[str], bool] | None = None,
    variants: Sequence[Variant] = ("dvcqg", "vi"),
    aggregate_mismatch: Literal["total", "row"] | None = None,
    as_of: datetime | None = None,
    manifests: bool = False,
) -> list[Path]:
    """Drop one month of deliveries into ``inbox_dir/<source>/``, as provinces send them.

    * ``one_stop/one_stop_<agency>_<YYYY-MM>.<ext>``: each agency's dossiers received in the
      month (xlsx, HTML-as-xls, csv or json; the format is fixed per agency, since its
      system does not change month to month), and
      ``one_stop/one_stop_aggregate_<province>_<YYYY-MM>.xlsx``: the summary report;
    * ``documents/documents_<agency>_<YYYY-MM>.<csv|xlsx>``: document movements;
    * ``portal/portal_catalogue_<province>_<YYYY-MM>.xlsx`` (month-end snapshot) and
      ``portal/portal_usage_<province>_<YYYY-MM>.<ext>``.

    Deterministic for (cfg, month, variant_seed). No pathology unless asked: ``faults`` applies
    to every file whose name (without extension) ``faulty`` accepts, all when None;
    ``variants`` limits header variants (add ``"upgraded"`` for renamed/extra columns);
    ``aggregate_mismatch`` breaks an identity of each summary report. Every file shows its
    system as at ``as_of`` (default: the end of ``cfg``'s horizon; :mod:`chiso_sim.clock`).
    With ``manifests``, each agency's and province's list export comes with its manifest
    sidecar (``<file>.manifest.json``: records and sha256; the returned paths list the data
    files only).
    """
    from chiso_sim.documents import generate_month as documents_month
    from chiso_sim.one_stop import generate_month as dossiers_month
    from chiso_sim.portal import catalogue_snapshot, usage_month

    month = month.replace(day=1)
    period = f"{month:%Y-%m}"
    agencies = {a.code: a for a in aggregate.load_report_agencies(cfg) if a.active_in(month)}
    written: list[Path] = []

    def emit(
        name: str,
        entity_name: str,
        rows: Sequence[Mapping[str, Any]],
        opts: ExportOptions,
        agency: str | None,
        province: str | None,
    ) -> None:
        ff = _faults_for(faults, faulty, name)
        unit = agencies[agency].name if agency in agencies else None
        opts = replace(opts, unit_name=opts.unit_name or unit, province_name=province)
        path = inbox_dir / _source_dir(name) / f"{name}.{file_extension(opts, ff)}"
        written.append(write_export(path, entity_name, rows, month, opts, ff, manifest=manifests))

    def province_of(agency: str) -> str | None:
        return agencies[agency].province_name if agency in agencies else None

    dossiers = [
        d for d in dossiers_month(cfg, month, as_of) if _in_month(d.get("NgayTiepNhan"), month)
    ]
    for agency, rows in _by_agency(dossiers, "DonViXuLy").items():
        opts = _pick(_DOSSIER_MIX, variant_seed, "one_stop", agency, variants)
        name = f"one_stop_{agency}_{period}"
        emit(name, "one_stop.dossiers", rows, opts, agency, province_of(agency))

    history = aggregate.dossiers_through(cfg, month, as_of)
    for code, _ in aggregate.report_provinces(cfg, month):
        name = f"one_stop_aggregate_{code}_{period}"
        ff = _faults_for(faults, faulty, name)
        data = aggregate.aggregate_report_bytes(
            cfg,
            month,
            province_code=code,
            dossiers=history,
            mismatch=aggregate_mismatch,
            faults=ff,
        )
        ext = "xls" if ff.html_xls else "xlsx"
        written.append(write_file(inbox_dir / "one_stop" / f"{name}.{ext}", data))

    for agency, rows in _by_agency(documents_month(cfg, month, as_of), "don_vi").items():
        opts = _pick(_DOCUMENT_MIX, variant_seed, "documents", agency, variants)
        name = f"documents_{agency}_{period}"
        emit(name, "documents.movements", rows, opts, agency, province_of(agency))

    portal = {
        "catalogue": (
            "portal.service_catalogue",
            catalogue_snapshot(cfg, last_day(month), as_of),
        ),
        "usage": ("portal.usage", usage_month(cfg, month, as_of)),
    }
    for kind, (entity_name, rows) in portal.items():
        for code, province_rows in _by_province(rows, agencies).items():
            if kind == "catalogue":
                opts = _with_variant(_CATALOGUE_OPTIONS, variants)
            else:
                opts = _pick(_USAGE_MIX, variant_seed, "portal", f"usage|{code}", variants)
            province = next(
                (a.province_name for a in agencies.values() if a.province_code == code), None
            )
            emit(f"portal_{kind}_{code}_{period}", entity_name, province_rows, opts, None, province)
    return sorted(written)


def _by_province(
    rows: Iterable[Mapping[str, Any]], agencies: Mapping[str, Any]
) -> dict[str, list[Mapping[str, Any]]]:
    """Portal rows per province (each province runs its own portal); unknown agencies → "00"."""
    out: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        agency = agencies.get(str(row.get("don_vi") or ""))
        out.setdefault(agency.province_code if agency else "00", []).append(row)
    return dict(sorted(out.items()))


def _source_dir(name: str) -> str:
    for source in ("one_stop", "documents", "portal"):
        if name.startswith(source):
            return source
    raise ValueError(f"no source for file {name!r}")


def _in_month(value: Any, month: date) -> bool:
    parsed = parse_temporal(value)
    if parsed is None:
        return False
    day = parsed.date() if isinstance(parsed, datetime) else parsed
    return (day.year, day.month) == (month.year, month.month)
