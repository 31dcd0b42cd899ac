"""The directory walk: regular files only, symlinks never followed (no loop, no escape),
hardlinked paths folded into one file, a stable order."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stripwheel._errors import StripwheelError
from stripwheel.tree.walk import TreeSource, record_target


def tree(root: Path) -> Path:
    (root / "pkg" / "sub").mkdir(parents=True)
    (root / "pkg" / "a.txt").write_text("a\n")
    (root / "pkg" / "sub" / "b.txt").write_text("b\n")
    (root / "top.txt").write_text("top\n")
    return root


def test_regular_files_in_a_stable_order(tmp_path: Path) -> None:
    files = TreeSource(tree(tmp_path)).files()
    assert [f.path for f in files] == ["pkg/a.txt", "pkg/sub/b.txt", "top.txt"]
    assert [f.size for f in files] == [2, 2, 4]


def test_symlinks_are_never_followed(tmp_path: Path) -> None:
    """A link to a file, to a directory out of the tree, and a loop: none is read."""
    root = tree(tmp_path / "root")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not ours\n")
    os.symlink(outside, root / "escape")
    os.symlink(root, root / "pkg" / "loop")
    os.symlink("a.txt", root / "pkg" / "alias.txt")
    os.symlink("missing", root / "dangling")
    assert [f.path for f in TreeSource(root).files()] == ["pkg/a.txt", "pkg/sub/b.txt", "top.txt"]


def test_hardlinks_inside_the_tree_are_one_file(tmp_path: Path) -> None:
    root = tree(tmp_path / "root")
    os.link(root / "pkg" / "a.txt", root / "pkg" / "sub" / "a-again.txt")
    os.link(root / "top.txt", tmp_path / "outside-link.txt")  # a link from outside the tree
    files = {f.path: f for f in TreeSource(root).files()}
    assert set(files) == {"pkg/a.txt", "pkg/sub/b.txt", "top.txt"}
    assert files["pkg/a.txt"].aliases == ["pkg/sub/a-again.txt"]
    assert files["pkg/a.txt"].links == 2
    assert files["top.txt"].aliases == [] and files["top.txt"].links == 2


def test_fifos_are_not_read(tmp_path: Path) -> None:
    root = tree(tmp_path)
    os.mkfifo(root / "pipe")
    assert "pipe" not in [f.path for f in TreeSource(root).files()]


def test_a_path_that_is_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(StripwheelError, match="not a wheel file or a directory"):
        TreeSource(tmp_path / "missing")


@pytest.mark.parametrize(
    ("record", "row", "target"),
    [
        (
            "lib/python3.11/site-packages/pkg-1.dist-info/RECORD",
            "pkg/_ext.so",
            "lib/python3.11/site-packages/pkg/_ext.so",
        ),
        ("lib/python3.11/site-packages/pkg-1.dist-info/RECORD", "../../../bin/tool", "bin/tool"),
        ("site/pkg-1.dist-info/RECORD", "pkg/../pkg/x.so", "site/pkg/x.so"),
        ("pkg-1.dist-info/RECORD", "pkg/x.so", "pkg/x.so"),
    ],
)
def test_record_rows_resolve_against_the_site_directory(tmp_path: Path, record: str, row: str, target: str) -> None:
    assert record_target(tmp_path, record, row) == target


def test_absolute_record_rows(tmp_path: Path) -> None:
    assert record_target(tmp_path, "site/p-1.dist-info/RECORD", str(tmp_path / "bin" / "tool")) == "bin/tool"
