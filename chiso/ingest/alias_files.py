"""Where the alias data lives: the package's files, and the deployment's own file.

Header spellings (``chiso/sources/aliases.yaml``) and value words
(``chiso/sources/vocabularies.yaml``) ship with the package. A deployment meets vendors the
package has not seen; its operators extend both without editing the package, in one file of
the deployment, ``<CHISO_HOME>/aliases.yaml`` (or the file ``CHISO_ALIASES_FILE`` names)::

    headers:                     # same shape as chiso/sources/aliases.yaml
      one_stop.dossiers:
        don_vi_xu_ly: [Mã ĐV xử lý]
    values:                      # same shape as chiso/sources/vocabularies.yaml
      one_stop.dossiers:
        trang_thai_ho_so:
          "10": [Đã trả KQ]

Entries add to the package's; one that contradicts it (a word the package maps to another
code, a header it gives to another field) is refused when the file is read, so a deployment
cannot silently change what a published number counted.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

FILE_ENV = "CHISO_ALIASES_FILE"
FILE_NAME = "aliases.yaml"
SECTIONS = ("headers", "values")


class AliasFileError(ValueError):
    """The deployment's alias file cannot be used (named, with what is wrong)."""


def deployment_file() -> Path:
    """The deployment's alias file: the one CHISO_ALIASES_FILE names, else the home's (it need
    not exist: a deployment without one uses the package's data alone)."""
    named = os.environ.get(FILE_ENV)
    if named:
        return Path(named).expanduser()
    home = os.environ.get("CHISO_HOME")
    if home:
        return Path(home).expanduser() / FILE_NAME
    from chiso.core.config import REPO_ROOT

    return REPO_ROOT / ".var" / FILE_NAME  # the default home (chiso.core.config)


def read_yaml(path: Path) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader) or {}
    except yaml.YAMLError as exc:
        raise AliasFileError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise AliasFileError(f"{path}: expected a mapping at the top")
    return data


def deployment_stamp() -> tuple[str, float] | None:
    """The deployment file's path and modification time (None without one): what the
    cached tables are keyed on, so an edit is read at the next load, without a restart."""
    return stamp(deployment_file())


@lru_cache(maxsize=4)
def deployment_sections(key: tuple[str, float] | None) -> dict[str, dict[str, Any]]:
    """The deployment file's sections ("headers", "values"), read and checked once per
    version of the file (`key`: :func:`deployment_stamp`)."""
    if key is None:
        return {name: {} for name in SECTIONS}
    path = Path(key[0])
    data = read_yaml(path)
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise AliasFileError(f"{path}: unknown section(s) {unknown}; known: {list(SECTIONS)}")
    sections = {name: data.get(name) or {} for name in SECTIONS}
    for name, part in sections.items():
        if not isinstance(part, dict):
            raise AliasFileError(f"{path}: section {name!r} must be a mapping")
    return sections


def stamp(path: Path | None) -> tuple[str, float] | None:
    """What a cache of a file's contents is keyed on: its path and modification time."""
    if path is None or not path.is_file():
        return None
    return str(path), path.stat().st_mtime
