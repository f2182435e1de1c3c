"""The offline app's build step: icons, the per-file size limit, the version, and sw.js's file list.

Files at or over GitHub Pages' 100 MB limit are cut into parts (`<name>.part-000`, ...); the
service worker joins them again, so the page still fetches the file by its own name.

It runs last (from assemble.py) because the version is a digest of every file that ships: any
change to any file makes a new version, so a deploy can never leave a browser with a new sw.js
serving an old file, or the reverse. sw.js gets the version and every file's URL, size and
sha256 (as a Subresource Integrity string) written into it, so the browser sees a changed
service worker on every deploy and can verify each file it stores.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

from icons import write_icons

MAX_FILE_BYTES = 100_000_000  # GitHub Pages refuses files over 100 MB
ICON_SIZES = (192, 512)
SERVICE_WORKER = "sw.js"
BUILD_INFO = "build-info.json"
_BUILD_LINE = re.compile(r"^const BUILD = .*;$", re.MULTILINE)
_PART = re.compile(r"^(?P<whole>.+)\.part-\d{3}$")


class FileTooLarge(RuntimeError):
    """A file in dist/ is over GitHub Pages' per-file limit."""


def check_file_sizes(dist: Path, limit: int = MAX_FILE_BYTES) -> None:
    too_large = [f"{p.relative_to(dist)} ({p.stat().st_size:,} B)" for p in dist.rglob("*")
                 if p.is_file() and p.stat().st_size >= limit]
    if too_large:
        raise FileTooLarge(f"GitHub Pages serves files up to {limit:,} B; too large: {', '.join(too_large)}")


def _parts(dist: Path) -> list[tuple[Path, Path]]:
    """(part, whole file it belongs to) for every part file in dist/, in order."""
    return [(p, p.with_name(m["whole"])) for p in sorted(dist.rglob("*.part-*")) if (m := _PART.match(p.name))]


def split_large_files(dist: Path, limit: int = MAX_FILE_BYTES) -> dict[str, list[str]]:
    """Cut every file of `limit` bytes or more into parts below it; returns {file: [parts]}.

    A part whose whole file is in dist/ again (the build places files anew each time) is stale
    and goes first; parts without their whole file are the split files, listed in the result.
    """
    for part, whole in _parts(dist):
        if whole.exists():
            part.unlink()
    for path in sorted(p for p in dist.rglob("*") if p.is_file() and p.stat().st_size >= limit):
        with path.open("rb") as f:
            for index, chunk in enumerate(iter(lambda: f.read(limit // 2), b"")):
                path.with_name(f"{path.name}.part-{index:03d}").write_bytes(chunk)
        path.unlink()  # often a hard link into the download cache: only this name goes
    joined: dict[str, list[str]] = {}
    for part, whole in _parts(dist):
        joined.setdefault(whole.relative_to(dist).as_posix(), []).append(part.relative_to(dist).as_posix())
    return joined


def integrity_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return "sha256-" + base64.b64encode(digest.digest()).decode("ascii")


def entry(dist: Path, path: Path) -> dict:
    return {"url": path.relative_to(dist).as_posix(), "bytes": path.stat().st_size, "integrity": integrity_of(path)}


def precache_entries(dist: Path, exclude: frozenset[str] = frozenset()) -> list[dict]:
    """Every file under dist/ (relative URL, bytes, integrity), sorted, minus `exclude`."""
    return [entry(dist, p) for p in sorted(dist.rglob("*"))
            if p.is_file() and p.relative_to(dist).as_posix() not in exclude]


def content_version(entries: list[dict]) -> str:
    listing = "\n".join(f"{e['url']} {e['integrity']}" for e in entries)
    return hashlib.sha256(listing.encode()).hexdigest()[:12]


def write_service_worker(dist: Path, version: str, entries: list[dict], joined: dict[str, list[str]]) -> None:
    """Fill sw.js's BUILD line (the site's sw.js is the template) with this build's files."""
    target = dist / SERVICE_WORKER
    build = json.dumps({"version": version, "files": entries, "joined": joined}, separators=(",", ":"))
    source, count = _BUILD_LINE.subn(lambda _: f"const BUILD = {build};", target.read_text(), count=1)
    if count != 1:
        raise RuntimeError(f"{SERVICE_WORKER} has no `const BUILD = ...;` line to fill in")
    target.write_text(source)


def finish(dist: Path, info: dict, limit: int = MAX_FILE_BYTES) -> dict:
    """Draw the icons, split large files, then write build-info.json (with the version) and sw.js."""
    write_icons(dist / "icon.svg", dist / "icons", ICON_SIZES)
    joined = split_large_files(dist, limit)
    check_file_sizes(dist, limit)
    entries = precache_entries(dist, exclude=frozenset({SERVICE_WORKER, BUILD_INFO}))
    info = {**info, "split": joined, "version": content_version(entries)}
    (dist / BUILD_INFO).write_text(json.dumps(info, indent=2) + "\n")
    entries = sorted([*entries, entry(dist, dist / BUILD_INFO)], key=lambda e: e["url"])
    write_service_worker(dist, info["version"], entries, joined)
    return info
