"""`chiso-sim`: the harness's command line.

chiso-sim serve [--port 8765 --months 6 --faults 5xx,429 …]   the source systems' APIs
chiso-sim generate [--check]                                   the committed generated files
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:  # the server's own flags (chiso_sim.server.build_parser)
        from chiso_sim.server import main as serve_main

        serve_main(argv[1:])
        return 0
    parser = argparse.ArgumentParser(prog="chiso-sim", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="serve the three source systems (chiso-sim serve --help)")
    gen = sub.add_parser("generate", help="rewrite the committed generated files")
    gen.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a file is out of date"
    )
    args = parser.parse_args(argv)
    from chiso_sim.generate import committed

    if args.check:
        stale = committed.stale()
        for name, paths in stale.items():
            for path in paths:
                print(f"out of date ({name}): {path}", file=sys.stderr)
        if stale:
            print("run `make generate` and commit the result", file=sys.stderr)
        return 1 if stale else 0
    for path in committed.write():
        print(f"rewrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
