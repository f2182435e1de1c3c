"""The offline build step (build/pwa.py, build/icons.py) on a small stand-in for dist/."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import struct
import zlib
from pathlib import Path

import icons  # build/ is on sys.path (conftest)
import pwa
import pytest

from tests.conftest import ROOT


@pytest.fixture
def dist(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setattr(pwa, "ICON_SIZES", (16, 32))  # drawing the real 512 px icon takes seconds
    for name in ("sw.js", "icon.svg", "index.html"):
        shutil.copy(ROOT / "site" / name, tmp_path / name)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "m.gguf").write_bytes(b"GGUF" + bytes(1000))
    return tmp_path


def sw_build(dist: Path) -> dict:
    return json.loads(re.search(r"^const BUILD = (.*);$", (dist / "sw.js").read_text(), re.MULTILINE).group(1))


def test_finish_versions_the_build_and_lists_every_file_for_the_service_worker(dist: Path) -> None:
    info = pwa.finish(dist, {"model": {"url": "models/m.gguf"}})
    build = sw_build(dist)
    assert json.loads((dist / "build-info.json").read_text()) == info
    assert build["version"] == info["version"]
    assert [e["url"] for e in build["files"]] == [
        "build-info.json", "icon.svg", "icons/icon-16.png", "icons/icon-32.png", "index.html", "models/m.gguf"]
    model = next(e for e in build["files"] if e["url"] == "models/m.gguf")
    expected = base64.b64encode(hashlib.sha256(b"GGUF" + bytes(1000)).digest()).decode()
    assert model == {"url": "models/m.gguf", "bytes": 1004, "integrity": f"sha256-{expected}"}


def test_any_changed_file_makes_a_new_version_and_rebuilding_is_stable(dist: Path) -> None:
    template = (dist / "sw.js").read_text()
    first = pwa.finish(dist, {})["version"]
    assert pwa.finish(dist, {})["version"] == first  # sw.js and build-info.json are not hashed
    (dist / "index.html").write_text((dist / "index.html").read_text() + "<!-- changed -->")
    assert pwa.finish(dist, {})["version"] != first
    assert template.count("const BUILD = ") == (dist / "sw.js").read_text().count("const BUILD = ") == 1


def test_a_service_worker_without_the_build_line_is_refused(dist: Path) -> None:
    (dist / "sw.js").write_text("self.addEventListener('fetch', () => {});\n")
    with pytest.raises(RuntimeError, match="const BUILD"):
        pwa.finish(dist, {})


def test_files_over_the_pages_limit_fail_the_build(tmp_path: Path) -> None:
    (tmp_path / "big.bin").write_bytes(bytes(2000))
    (tmp_path / "small.bin").write_bytes(bytes(10))
    pwa.check_file_sizes(tmp_path, limit=2001)
    with pytest.raises(pwa.FileTooLarge, match=r"big\.bin \(2,000 B\)"):
        pwa.check_file_sizes(tmp_path, limit=2000)


def test_large_files_ship_as_parts_that_rejoin_to_the_same_bytes(dist: Path) -> None:
    model = bytes(range(256)) * 110  # 28,160 B: 6 parts of at most 5,000 B
    (dist / "models" / "m.gguf").write_bytes(model)
    info = pwa.finish(dist, {}, limit=10_000)
    parts = info["split"]["models/m.gguf"]
    assert parts == [f"models/m.gguf.part-{i:03d}" for i in range(6)]
    assert not (dist / "models" / "m.gguf").exists()
    assert b"".join((dist / part).read_bytes() for part in parts) == model
    assert sw_build(dist)["joined"] == info["split"]
    assert {e["url"] for e in sw_build(dist)["files"]} >= set(parts)
    assert pwa.finish(dist, {}, limit=10_000) == info  # the parts are the split file on a rebuild


def test_a_file_placed_again_replaces_its_old_parts(dist: Path) -> None:
    (dist / "models" / "m.gguf").write_bytes(bytes(28_000))
    pwa.finish(dist, {}, limit=10_000)
    (dist / "models" / "m.gguf").write_bytes(b"small now")  # what the next build places
    info = pwa.finish(dist, {}, limit=10_000)
    assert info["split"] == {} and not list(dist.rglob("*.part-*"))


def decode_png(data: bytes) -> tuple[int, int, bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, color = struct.unpack(">IIBB", data[16:26])
    assert (depth, color) == (8, 6)
    idat, pos = b"", 8
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    return width, height, zlib.decompress(idat)


def test_icons_are_rgba_pngs_with_transparent_rounded_corners() -> None:
    width, height, raw = decode_png(icons.png_bytes(icons.render(ROOT / "site" / "icon.svg", 64)))
    assert (width, height) == (64, 64)
    stride = 1 + 64 * 4

    def pixel(x: int, y: int) -> tuple[int, ...]:
        start = y * stride + 1 + x * 4
        return tuple(raw[start:start + 4])

    assert pixel(0, 0)[3] == 0
    assert pixel(2, 40) == (0x1F, 0x5F, 0xBF, 255)  # the blue background, off the keys
    assert pixel(46, 46) == (0xFF, 0xD1, 0x66, 255)  # the yellow key
