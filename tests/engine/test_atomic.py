import pytest

from engine.atomic import atomic_write


def test_replaces_on_success_and_keeps_old_on_failure(tmp_path):
    p = tmp_path / "a.txt"
    with atomic_write(p) as fh:
        fh.write("one")
    assert p.read_text() == "one"
    with pytest.raises(RuntimeError):
        with atomic_write(p) as fh:
            fh.write("two")
            raise RuntimeError("killed mid-write")
    assert p.read_text() == "one"
    assert [f.name for f in tmp_path.iterdir()] == ["a.txt"]


def test_binary_mode_and_new_folders(tmp_path):
    p = tmp_path / "x" / "y.bin"
    with atomic_write(p, "wb") as fh:
        fh.write(b"\x00\x01")
    assert p.read_bytes() == b"\x00\x01"
