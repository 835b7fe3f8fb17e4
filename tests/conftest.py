"""Shared fixtures: warehouses on the run's one embedded server (tests/warehouses.py).

- ``chiso_env``: an empty, bootstrapped warehouse in the module's own home;
- ``built_env``: a copy of the warehouse built once per run (three months published).

Each module gets its own home, databases and service ports, so tests never touch the demo's
`.var` and modules can run in parallel (pytest-xdist workers share the server).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import reliability as reliability_doc
from tests import warehouses
from tests.timeline import Timeline, WorkerCpu
from tests.warehouses import Env

# The order modules are handed to the workers (with --no-loadscope-reorder). The run is bound by
# its CPU (tests/timeline.py prints each module's), so what matters is that no worker idles
# while work is left and no long module starts last: first three long modules on warehouses of
# their own (the Airflow ones mostly wait on their schedulers), then, on the fourth worker while
# the template builds in the background, the many short modules that need no built warehouse
# (default 2), then the copies of the built warehouse, longest first. A worker running a
# module of one or two tests is handed its next module at once (xdist's prefetch): what follows
# the first three must be short, or it waits behind them.
ORDER = {
    "test_airflow_scheduler": 0,  # on an empty warehouse: it runs while the template builds
    "test_airflow_celery": 0,  # beside it, waiting for its reference
    "test_build_faults": 0,  # on a server of its own, long: early, not a straggler at the end
    "test_restructuring_2025": 2.5,  # its own closes, four minutes: after the short ones
    "test_monthly_slice": 3,
    "test_write_audit_publish": 4,
    "test_incremental_builds": 5,
    "test_reference_data": 6,
    "test_bi_access": 7,
    "test_leaders_dashboard": 8,
    "test_report_delivery": 9,
}
_OWNER = pytest.StashKey[bool]()
_BUILDER = pytest.StashKey[subprocess.Popen]()


def pytest_configure(config: pytest.Config) -> None:
    """The controlling process makes the run's root folder (xdist workers inherit it) and, when
    the end-to-end tests are to run, starts building the template warehouse at once."""
    config.pluginmanager.register(WorkerCpu(), "chiso-worker-cpu")
    if hasattr(config, "workerinput") or os.environ.get(warehouses.ROOT_ENV):
        return
    root = warehouses.make_root()
    os.environ[warehouses.ROOT_ENV] = str(root)
    config.stash[_OWNER] = True
    config.pluginmanager.register(Timeline(warehouses.server_pidfile()), "chiso-timeline")
    if _needs_template([str(a) for a in config.args]):
        config.stash[_BUILDER] = warehouses.build_template_in_background(root / "template.log")


def _needs_template(args: list[str]) -> bool:
    """Whether the tests asked for may use the built template: a folder holding end-to-end
    tests, or a test file that asks for `built_env`."""
    if not args:
        return True
    for arg in args:
        path = Path(arg.split("::")[0])
        if path.is_dir() and (path.name in ("tests", "e2e", ".") or (path / "e2e").is_dir()):
            return True
        if path.suffix == ".py" and path.is_file() and "built_env" in path.read_text("utf-8"):
            return True
    return False


def _full_run(config: pytest.Config) -> bool:
    """Every test, as `make test` runs them: no paths, keywords, marks or last-failed."""
    return (
        config.args_source != pytest.Config.ArgsSource.ARGS
        and not config.option.keyword
        and not config.option.markexpr
        and not getattr(config.option, "lf", False)
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After a full, green run: docs/reliability.md as the tests' trials say (rewritten, and
    the run failed, when the committed one differs; tests/reliability.py)."""
    config = session.config
    if not config.stash.get(_OWNER, False) or exitstatus != 0 or not _full_run(config):
        return
    folder = Path(os.environ[warehouses.ROOT_ENV]) / reliability_doc.FOLDER
    text = reliability_doc.render(reliability_doc.collected(folder))
    doc = reliability_doc.DOC
    if doc.exists() and doc.read_text(encoding="utf-8") == text:
        return
    doc.write_text(text, encoding="utf-8")
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(
            f"{doc} did not say what this run tried: rewritten; review and commit it", red=True
        )
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def reliability(request: pytest.FixtureRequest) -> reliability_doc.Recorder:
    """Records a test's trials for docs/reliability.md (tests/reliability.py)."""
    folder = warehouses.root() / reliability_doc.FOLDER
    return reliability_doc.Recorder(folder, request.node.nodeid.split("/")[-1])


def pytest_unconfigure(config: pytest.Config) -> None:
    """After every worker finished: stop the run's server and delete its folder."""
    builder = config.stash.get(_BUILDER, None)
    if builder is not None and builder.poll() is None:
        builder.terminate()
        builder.wait(timeout=60)
    if config.stash.get(_OWNER, False):
        warehouses.stop_server(Path(os.environ.pop(warehouses.ROOT_ENV)))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--long",
        action="store_true",
        help="also run the tests marked long (an hour and more: `make test-long`)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The long tests run only when asked for (`--long`); the others in ORDER."""
    if not config.getoption("--long"):
        long = [item for item in items if item.get_closest_marker("long")]
        if long:
            config.hook.pytest_deselected(items=long)
            items[:] = [item for item in items if not item.get_closest_marker("long")]
    items.sort(key=lambda item: ORDER.get(item.module.__name__.rsplit(".", 1)[-1], 2))


def _name(request: pytest.FixtureRequest) -> str:
    return request.module.__name__.rsplit(".", 1)[-1]


@pytest.fixture(scope="module")
def second_in_line() -> Iterator[None]:
    """The module's processes (its Airflow, workers, builds: they inherit it) yield the CPUs to
    the others, at nice 10: a long module that needs no built warehouse runs from the start
    beside the build of that warehouse, which every other module waits for."""
    before = os.nice(0)
    os.nice(10)
    yield
    with contextlib.suppress(PermissionError):  # only root may raise a priority again
        os.nice(before - os.nice(0))


@pytest.fixture(scope="module")
def chiso_env(request: pytest.FixtureRequest) -> Iterator[Env]:
    """An empty, bootstrapped warehouse (roles, schemas, control plane) for the module."""
    with warehouses.fresh(_name(request)) as env:
        yield env


@pytest.fixture(scope="module")
def built_env(request: pytest.FixtureRequest) -> Iterator[Env]:
    """A warehouse with warehouses.TEMPLATE_MONTHS built and published, for the module."""
    with warehouses.built(_name(request)) as env:
        yield env
