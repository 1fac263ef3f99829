"""Headless Chromium for the tests that open a page: the book's, the drawing page, the pad."""

from __future__ import annotations

import shutil

import pytest

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")


def start_chromium(*, height: int = 2000, logs: tuple[str, ...] = ("browser",)):
    """A headless Chromium driven by selenium, with nothing reaching out to the network.

    Args:
        height: the window's height in pixels (the width is 1280).
        logs: the Chromium logs to keep (``"browser"`` for the console, ``"performance"`` for
            the network requests).

    Fails the test with a sentence saying how to install Chromium when it is missing.
    """
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.fail(
            "chromium and chromedriver are required: `make browser` installs them "
            "(Debian packages chromium and chromium-driver)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--window-size=1280,{height}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", dict.fromkeys(logs, "ALL"))
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def build_book(source, out=None):
    """Builds a Jupyter Book with warnings as errors and returns its HTML folder.

    Args:
        source: the folder holding ``_config.yml`` and ``_toc.yml``.
        out: where ``_build`` goes (``--path-output``); inside ``source`` if None.
    """
    import subprocess
    import sys
    from pathlib import Path

    command = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(source)]
    if out is not None:
        command += ["--path-output", str(out)]
    command += ["--warningiserror", "--nitpick", "--keep-going"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return Path(out if out is not None else source) / "_build" / "html"
