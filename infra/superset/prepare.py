"""Prepare Superset for chiso in one process: its metadata database, the admin, the roles, and
the dashboard bundle imported.

Run by chiso (chiso/runtime/superset.py) with the Python of Superset's own virtualenv
(.venv-superset), never imported by chiso. It runs Superset's own CLI commands (`superset db
upgrade`, `fab create-admin`, `init`) in one interpreter instead of three, which saves
loading Superset twice (some 10 s). The admin's password comes from the environment
(CHISO_SUPERSET_ADMIN_PASSWORD) and is typed at the commands' prompts, so it is never on a
command line.

The bundle is imported as "assets" (what `POST /api/v1/assets/import/` runs), which overwrites
the database connection, the dataset, the charts and the dashboard: `superset
import-dashboards` would overwrite the dashboard only and keep the dataset and charts of an
earlier import, so a changed chart would never reach a running deployment.

    python infra/superset/prepare.py BUNDLE.zip [--skip-init]
"""

from __future__ import annotations

import os
import sys

ADMIN = "admin"


def main(argv: list[str]) -> int:
    from superset.app import create_app
    from superset.cli.main import superset

    bundle = argv[0]
    skip_init = "--skip-init" in argv[1:]
    password = os.environ["CHISO_SUPERSET_ADMIN_PASSWORD"]
    typed = f"{password}\n{password}\n"
    app = create_app()
    runner = app.test_cli_runner()
    steps: list[tuple[list[str], str | None]] = [
        (["db", "upgrade"], None),
        (
            [
                "fab", "create-admin", "--username", ADMIN, "--firstname", "chiso",
                "--lastname", "admin", "--email", "admin@chiso.invalid",
            ],
            typed,
        ),  # fmt: skip
        # the password chiso keeps, also for an admin made before (a home's secrets renewed)
        (["fab", "reset-password", "--username", ADMIN], typed),
        *([] if skip_init else [(["init"], None)]),
    ]
    for args, stdin in steps:
        result = runner.invoke(superset, args, input=stdin, catch_exceptions=True)
        output = (result.output or "").replace(password, "***")
        if result.exit_code != 0 or result.exception is not None:
            print(f"superset {' '.join(args[:2])} failed ({result.exit_code}):", file=sys.stderr)
            print(output[-4000:], file=sys.stderr)
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                print(f"{type(result.exception).__name__}: {result.exception}", file=sys.stderr)
            return 1
        print(f"superset {' '.join(args[:2])}: done", flush=True)
    import_assets(app, bundle)
    print(f"imported {bundle}", flush=True)
    return 0


def import_assets(app, bundle: str) -> None:
    """Import the bundle (a zip of metadata.yaml, databases/, datasets/, charts/, dashboards/)
    as the admin, overwriting what an earlier import made."""
    from zipfile import ZipFile

    from flask import g
    from superset import security_manager
    from superset.commands.importers.v1.assets import ImportAssetsCommand
    from superset.commands.importers.v1.utils import get_contents_from_bundle

    with app.app_context():
        g.user = security_manager.find_user(username=ADMIN)
        with ZipFile(bundle) as zf:
            contents = get_contents_from_bundle(zf)
        ImportAssetsCommand(contents).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
