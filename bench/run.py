"""Benchmarks: the COPY loader against `psql \\copy` of the same rows, in one run.

    make bench                      # 200k dossiers
    .venv/bin/python -m bench.run --rows 1000000

Runs on a throwaway embedded PostgreSQL. Prints throughput of both paths, their ratio, and
the loader's peak memory (measured in a child process so the CSV generation does not count).
Results are also written to bench/results/ (git-ignored).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent


def make_csv(path: Path, rows: int) -> None:
    """Repeat the simulator's dossiers with fresh ids until `rows` lines are written."""
    from chiso.ingest.raw_tables import ONE_STOP_DOSSIERS
    from chiso.simulator.one_stop import SimulatorConfig, generate_dossiers

    base = generate_dossiers(SimulatorConfig(months=3))
    keys = [k for k, _ in ONE_STOP_DOSSIERS.fields]
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(keys)
        for i in range(rows):
            d = base[i % len(base)]
            w.writerow([f"{d['MaHoSo']}-{i}" if k == "MaHoSo" else d.get(k) for k in keys])


def load_with_chiso(url: str, path: Path) -> dict:
    """Child-process entry: stream the CSV through load_batch; report time and peak RSS."""
    from chiso.ingest.copy_loader import load_batch
    from chiso.ingest.raw_tables import ONE_STOP_DOSSIERS

    t = time.perf_counter()
    with path.open(newline="", encoding="utf-8") as f:
        result = load_batch(
            url,
            ONE_STOP_DOSSIERS,
            csv.DictReader(f),
            source="bench",
            extract_month=date(2020, 1, 1),
            origin=str(path),
            key_field="MaHoSo",
        )
    seconds = time.perf_counter() - t
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rows": result.rows, "seconds": seconds, "peak_rss_mb": peak_mb}


def load_with_psql(psql: Path, url: str, path: Path) -> dict:
    from chiso.ingest.raw_tables import ONE_STOP_DOSSIERS

    cols = ", ".join(ONE_STOP_DOSSIERS.columns)
    subprocess.run(
        [
            str(psql),
            url,
            "-qc",
            "create table if not exists raw.bench_copy as"
            " select * from raw.one_stop__dossiers with no data",
        ],
        check=True,
    )
    subprocess.run([str(psql), url, "-qc", "truncate raw.bench_copy"], check=True)
    t = time.perf_counter()
    subprocess.run(
        [
            str(psql),
            url,
            "-qc",
            f"\\copy raw.bench_copy ({cols}) from '{path}' with (format csv, header)",
        ],
        check=True,
    )
    return {"seconds": time.perf_counter() - t}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(load_with_chiso(args.child[0], Path(args.child[1]))))
        return 0

    home = Path(tempfile.mkdtemp(prefix="chiso-bench-"))
    os.environ["CHISO_HOME"] = str(home)
    from chiso.config import settings
    from chiso.db.bootstrap import bootstrap
    from chiso.db.embedded import EmbeddedPostgres

    s = settings()
    pg = EmbeddedPostgres(s)
    try:
        urls = bootstrap(s)
        data = home / "dossiers.csv"
        t = time.perf_counter()
        make_csv(data, args.rows)
        print(
            f"generated {args.rows:,} rows ({data.stat().st_size / 1e6:.0f} MB)"
            f" in {time.perf_counter() - t:.1f}s"
        )
        child = subprocess.run(
            [sys.executable, "-m", "bench.run", "--child", urls.loader, str(data)],
            capture_output=True,
            text=True,
            check=True,
            cwd=HERE.parent,
            env={**os.environ},
        )
        ours = json.loads(child.stdout.strip().splitlines()[-1])
        theirs = load_with_psql(pg.psql_path(), urls.loader, data)
        ours_rps, theirs_rps = args.rows / ours["seconds"], args.rows / theirs["seconds"]
        result = {
            "rows": args.rows,
            "chiso_rows_per_s": round(ours_rps),
            "psql_copy_rows_per_s": round(theirs_rps),
            "ratio": round(ours_rps / theirs_rps, 3),
            "chiso_peak_rss_mb": round(ours["peak_rss_mb"], 1),
        }
        print(json.dumps(result, indent=2))
        out = HERE / "results"
        out.mkdir(exist_ok=True)
        (out / f"copy_loader_{args.rows}.json").write_text(json.dumps(result, indent=2))
    finally:
        pg.destroy()
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
