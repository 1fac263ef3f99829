"""Puts ONNX Runtime Web's WebAssembly build where the book's HTML build copies static files.

The "Draw a digit" page (book/draw.md) classifies a drawing in the reader's browser with
ONNX Runtime Web, loaded from the book's own files, never from a CDN. This script takes the
pinned npm package (`npm pack`, from npm's cache when it holds it, so it works offline once the
package has been fetched), checks its sha512, and writes into ``OUT/draw/ort/``:

- ``ort.wasm.min.js``: the runtime's classic script (the global ``ort``);
- ``ort-wasm-simd-threaded.mjs`` and ``ort-wasm-simd-threaded.wasm``: what it loads from a
  page served over HTTP (``ort.env.wasm.wasmPaths``);
- ``ort-wasm-embedded.js``: the same two files inside a classic script, for a page opened from
  ``file://``, where the browser refuses to fetch files or import modules.

Sphinx copies ``OUT`` into ``_build/html/_static/`` when ``OUT`` is in ``html_static_path``.

Usage: ``python tools/fetch_onnxruntime.py [--out _build/onnxruntime-web]``
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "onnxruntime-web"
VERSION = "1.30.0"
INTEGRITY = (
    "sha512-q0y+JrrtukXSzsBWEMccVfqX25LRmosXHF+CaRJmg8pZClzcV7svNc4rK"
    "Y3jL02Vb7QmRMDs1SigqR4CXAfKYQ=="
)
DEFAULT_OUT = ROOT / "_build" / "onnxruntime-web"
RUNTIME_FILES = (
    "ort.wasm.min.js",
    "ort-wasm-simd-threaded.mjs",
    "ort-wasm-simd-threaded.wasm",
)
EMBEDDED = "ort-wasm-embedded.js"
STAMP = "VERSION"


class FetchError(RuntimeError):
    """The package could not be fetched or did not verify."""


def sri_sha512(path: Path) -> str:
    """The file's Subresource-Integrity string, as npm records it."""
    digest = hashlib.sha512(path.read_bytes()).digest()
    return "sha512-" + base64.b64encode(digest).decode("ascii")


def npm_pack(spec: str, destination: Path) -> Path:
    """Runs ``npm pack`` for ``spec`` into ``destination``; returns the tarball's path."""
    npm = shutil.which("npm")
    if npm is None:
        raise FetchError("npm is not installed: install Node.js and npm (Debian package npm).")
    done = subprocess.run(
        [npm, "pack", spec, "--prefer-offline", "--json", "--pack-destination", str(destination)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise FetchError(f"`npm pack {spec}` failed: {done.stderr.strip()[-2000:]}")
    return destination / json.loads(done.stdout)[0]["filename"]


def embedded_script(module_text: str, wasm: bytes) -> str:
    """A classic script that sets ``window.ortWasmEmbedded = {mjs, wasm}`` (wasm in base64)."""
    payload = {"version": VERSION, "mjs": module_text, "wasm": base64.b64encode(wasm).decode()}
    return (
        f"// {PACKAGE} {VERSION} (MIT License, Microsoft): its WebAssembly module and loader,\n"
        "// for a page opened from file://, where modules and fetch are refused.\n"
        f"window.ortWasmEmbedded = {json.dumps(payload)};\n"
    )


def fetch(out: Path = DEFAULT_OUT, pack=npm_pack, integrity: str = INTEGRITY) -> Path:
    """Writes the runtime's files into ``out/draw/ort`` (nothing if they are there already).

    Args:
        out: the folder to list in Sphinx's ``html_static_path``.
        pack: ``pack(spec, folder) -> tarball path``; `npm_pack` by default.
        integrity: the tarball's expected Subresource-Integrity string (npm's format).

    Returns:
        The folder holding the files, ``out/draw/ort``.

    Raises:
        FetchError: if npm fails or the tarball's sha512 is not the pinned one.
    """
    target = Path(out) / "draw" / "ort"
    stamp = target / STAMP
    expected = [*RUNTIME_FILES, EMBEDDED]
    if (
        stamp.is_file()
        and stamp.read_text().strip() == VERSION
        and all((target / name).is_file() for name in expected)
    ):
        return target
    with tempfile.TemporaryDirectory() as scratch:
        tarball = pack(f"{PACKAGE}@{VERSION}", Path(scratch))
        received = sri_sha512(tarball)
        if received != integrity:
            raise FetchError(
                f"{tarball.name} does not match the pinned checksum: expected {integrity}, "
                f"received {received}. Clear npm's cache entry (`npm cache clean --force`) "
                "and run again."
            )
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tarball) as archive:
            for name in RUNTIME_FILES:
                member = archive.extractfile(f"package/dist/{name}")
                if member is None:
                    raise FetchError(f"{tarball.name} has no dist/{name}")
                (target / name).write_bytes(member.read())
    module_text = (target / "ort-wasm-simd-threaded.mjs").read_text()
    wasm = (target / "ort-wasm-simd-threaded.wasm").read_bytes()
    (target / EMBEDDED).write_text(embedded_script(module_text, wasm))
    stamp.write_text(VERSION + "\n")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="default: %(default)s")
    args = parser.parse_args(argv)
    try:
        target = fetch(args.out)
    except FetchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{PACKAGE} {VERSION} in {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
