"""Opening a project on a full disk says so (issue 14 item 12; before: "disk I/O error")."""
from __future__ import annotations

import pytest

from engine.data.errors import ProjectError
from engine.data.schema import connect
from tests.helpers import tiny_tmpfs


def _fill(folder) -> None:
    try:
        with open(folder / "filler", "wb", buffering=0) as fh:
            while True:
                fh.write(b"\0" * 4096)
    except OSError:
        pass


def test_opening_a_project_on_a_full_disk_says_the_disk_is_full(tmp_path):
    with tiny_tmpfs(tmp_path / "disk", 256 * 1024) as disk:
        conn = connect(disk / "p.sqlite")
        conn.execute("CREATE TABLE t (x)")
        conn.close()  # a clean close removes the -wal and -shm files, which the next open must create
        _fill(disk)
        for name in ("p.sqlite", "new.sqlite"):  # SQLite says "disk I/O error", then "database or disk is full"
            with pytest.raises(ProjectError, match=r"cannot be opened \(the disk is full; free some space"):
                connect(disk / name)
