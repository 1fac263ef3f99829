"""The test run's guard that puts the committed chapter results back."""

from __future__ import annotations

from conftest import restore, snapshot


def test_restore_undoes_changes_additions_and_deletions(tmp_path):
    (tmp_path / "a.json").write_text('{"seconds": 1.0}')
    (tmp_path / "b.json").write_text('{"seconds": 2.0}')
    saved = snapshot(tmp_path)
    (tmp_path / "a.json").write_text('{"seconds": 9.9}')
    (tmp_path / "b.json").unlink()
    (tmp_path / "new.json").write_text("{}")
    restore(tmp_path, saved)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json"]
    assert (tmp_path / "a.json").read_text() == '{"seconds": 1.0}'
    assert (tmp_path / "b.json").read_text() == '{"seconds": 2.0}'


def test_snapshot_of_a_missing_folder_is_empty_and_restore_creates_nothing(tmp_path):
    missing = tmp_path / "results"
    assert snapshot(missing) == {}
    restore(missing, {})
    assert not missing.exists()
