"""The indicator catalogue and its targets (docs/indicators.md renders them; that the committed
file is current: test_generated_files.py)."""

import csv

from chiso_sim.generate.indicators_doc import SEEDS

from chiso.core.config import REFERENCE_DIR


def test_every_indicator_and_target_refers_to_the_catalogue() -> None:
    with (SEEDS / "ref_indicators.csv").open(encoding="utf-8") as fh:
        codes = [r["indicator_code"] for r in csv.DictReader(fh)]
    assert len(codes) == len(set(codes))
    with (REFERENCE_DIR / "ref_indicator_targets.csv").open(encoding="utf-8") as fh:
        targets = list(csv.DictReader(fh))
    spans: dict[tuple[str, str, str], list[tuple[int, int]]] = {}
    for t in targets:
        assert t["indicator_code"] in codes, t
        assert 0 <= float(t["target_value"]) <= 1 and t["comparator"] in (">=", "<=")
        key = (t["indicator_code"], t["province_code"], t["tier"])
        span = (int(t["year_from"]), int(t["year_to"]))
        assert span[0] <= span[1]
        for other in spans.get(key, []):
            assert span[1] < other[0] or other[1] < span[0], f"overlapping targets {key}"
        spans.setdefault(key, []).append(span)
        if t["tier"] == "district":
            assert span[1] <= 2025, "district level ended on 30 June 2025"
