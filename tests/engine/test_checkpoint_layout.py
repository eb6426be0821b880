"""The checkpoint layout read without torch: file names, is_checkpoint, config and weights header."""
from __future__ import annotations

import json
import shutil

import pytest
from safetensors import safe_open

from engine.checkpoint_layout import (
    CONFIG_FILE,
    MODEL_FILES,
    SAYSO_FAMILY,
    WEIGHTS_FILE,
    CheckpointError,
    family,
    finish_interrupted_write,
    has_trainer_state,
    is_checkpoint,
    missing_files,
    old_sibling,
    read_config,
    read_header,
    temp_prefix,
    temp_siblings,
)
from engine.resources import BUNDLED_MODEL


def copy_model(dest):
    dest.mkdir(parents=True)
    for f in MODEL_FILES:
        shutil.copy2(BUNDLED_MODEL / f, dest / f)
    return dest


def test_the_bundled_model_is_a_sayso_checkpoint_read_without_torch():
    assert is_checkpoint(BUNDLED_MODEL) and family(BUNDLED_MODEL) == SAYSO_FAMILY
    assert missing_files(BUNDLED_MODEL) == [] and not has_trainer_state(BUNDLED_MODEL)
    config = read_config(BUNDLED_MODEL)
    assert config["meta"]["name"] == "sayso-base" and config["model"]["d_model"] > 0
    header = read_header(BUNDLED_MODEL)
    with safe_open(str(BUNDLED_MODEL / WEIGHTS_FILE), "np") as f:  # the real reader agrees on every tensor
        assert set(header) - {"__metadata__"} == set(f.keys())
        name = next(iter(f.keys()))
        assert header[name]["shape"] == list(f.get_slice(name).get_shape())


def test_incomplete_or_broken_folders_are_named_clearly(tmp_path):
    assert missing_files(tmp_path / "nowhere") == list(MODEL_FILES) and family(tmp_path) is None
    ck = copy_model(tmp_path / "ck")
    (ck / WEIGHTS_FILE).unlink()
    assert missing_files(ck) == [WEIGHTS_FILE] and not is_checkpoint(ck)
    with pytest.raises(CheckpointError, match=f"{WEIGHTS_FILE} is missing"):
        read_header(ck)
    (ck / WEIGHTS_FILE).write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(CheckpointError, match="unreadable model.safetensors header"):
        read_header(ck)
    (ck / CONFIG_FILE).write_text("[1, 2]")
    with pytest.raises(CheckpointError, match="not a JSON object"):
        read_config(ck)
    (ck / CONFIG_FILE).write_text("{oops")
    with pytest.raises(CheckpointError, match="unreadable config.json"):
        read_config(ck)


def test_a_swap_interrupted_between_its_renames_is_finished(tmp_path):
    ck = tmp_path / "last"
    copy_model(old_sibling(ck))  # a kill left ".last.old" and no "last"
    finish_interrupted_write(ck)
    assert is_checkpoint(ck) and not old_sibling(ck).exists()
    finish_interrupted_write(ck)  # nothing to do
    assert json.loads((ck / CONFIG_FILE).read_text())["meta"]["name"] == "sayso-base"


def test_leftovers_of_a_write_killed_midway_are_found_by_their_prefix(tmp_path):
    import tempfile

    ck = tmp_path / "last"
    assert temp_siblings(ck) == [] and temp_siblings(tmp_path / "gone" / "last") == []
    killed = tempfile.mkdtemp(dir=tmp_path, prefix=temp_prefix(ck))  # what a writer killed midway leaves
    copy_model(ck)
    copy_model(tmp_path / "best")
    tempfile.mkdtemp(dir=tmp_path, prefix=temp_prefix(tmp_path / "best"))  # another checkpoint's
    (tmp_path / f"{temp_prefix(ck)}file").write_text("")  # not a folder
    assert [str(p) for p in temp_siblings(ck)] == [killed]
