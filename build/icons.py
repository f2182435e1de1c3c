"""Raster app icons (PNG) from site/icon.svg, for the web app manifest.

Chromium wants PNG icons of at least 192 and 512 px to offer installation. No well-kept SVG
renderer ships with the build's tools, and the icon is only filled rectangles (rounded or not)
and stroked straight lines, so this draws exactly those SVG elements with numpy (4x4
supersampling for smooth edges) and writes the PNG with zlib. Anything else in the SVG is an
error, so a richer icon cannot be silently drawn wrong.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import numpy as np

SVG_NS = "{http://www.w3.org/2000/svg}"
SUPERSAMPLE = 4
_PATH_TOKEN = re.compile(r"[MmLlHhVv]|-?\d*\.?\d+")


@dataclass(frozen=True)
class Paint:
    rgb: tuple[float, float, float]
    coverage: np.ndarray  # 0..1 per output pixel


def _color(value: str) -> tuple[float, float, float]:
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", value):
        raise ValueError(f"icon.svg: only #rrggbb colours are supported, not {value!r}")
    return tuple(int(value[i:i + 2], 16) / 255 for i in (1, 3, 5))


def _rect_mask(el, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    x, y = float(el.get("x", 0)), float(el.get("y", 0))
    w, h = float(el.get("width")), float(el.get("height"))
    r = min(float(el.get("rx", el.get("ry", 0))), w / 2, h / 2)
    dx = np.abs(xs - (x + w / 2))
    dy = np.abs(ys - (y + h / 2))
    corner_x = np.maximum(dx - (w / 2 - r), 0)
    corner_y = np.maximum(dy - (h / 2 - r), 0)
    return (dx <= w / 2) & (dy <= h / 2) & (corner_x**2 + corner_y**2 <= r * r)


def _polyline(d: str) -> list[tuple[float, float]]:
    """Points of a path made only of move/line commands (M L H V, absolute or relative)."""
    tokens = _PATH_TOKEN.findall(d)
    points: list[tuple[float, float]] = []
    x = y = 0.0
    i = 0
    while i < len(tokens):
        command = tokens[i]
        relative = command.islower()
        kind = command.upper()
        if kind in "ML":
            nx, ny = float(tokens[i + 1]), float(tokens[i + 2])
            x, y = (x + nx, y + ny) if relative else (nx, ny)
            i += 3
        elif kind == "H":
            x = x + float(tokens[i + 1]) if relative else float(tokens[i + 1])
            i += 2
        elif kind == "V":
            y = y + float(tokens[i + 1]) if relative else float(tokens[i + 1])
            i += 2
        else:
            raise ValueError(f"icon.svg: unsupported path data {d!r}")
        points.append((x, y))
    return points


def _stroke_mask(el, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    if el.get("stroke-linecap") != "round":
        raise ValueError("icon.svg: only round-capped strokes are supported")
    half = float(el.get("stroke-width", 1)) / 2
    points = _polyline(el.get("d", ""))
    mask = np.zeros(xs.shape, dtype=bool)
    for (ax, ay), (bx, by) in zip(points, points[1:]):
        length2 = (bx - ax) ** 2 + (by - ay) ** 2 or 1e-12
        t = np.clip(((xs - ax) * (bx - ax) + (ys - ay) * (by - ay)) / length2, 0, 1)
        mask |= (xs - ax - t * (bx - ax)) ** 2 + (ys - ay - t * (by - ay)) ** 2 <= half * half
    return mask


def _paints(svg: Path, size: int) -> list[Paint]:
    root = ElementTree.parse(svg).getroot()
    _, _, view_w, view_h = (float(v) for v in root.get("viewBox").split())
    n = size * SUPERSAMPLE
    centres = (np.arange(n) + 0.5) / n
    xs, ys = np.meshgrid(centres * view_w, centres * view_h)

    def coverage(mask: np.ndarray) -> np.ndarray:
        return mask.reshape(size, SUPERSAMPLE, size, SUPERSAMPLE).mean(axis=(1, 3))

    paints: list[Paint] = []

    def walk(parent, inherited_fill: str | None) -> None:
        for el in parent:
            tag = el.tag.removeprefix(SVG_NS)
            fill = el.get("fill", inherited_fill)
            if tag == "g":
                walk(el, fill)
            elif tag == "rect":
                paints.append(Paint(_color(fill), coverage(_rect_mask(el, xs, ys))))
            elif tag == "path" and el.get("stroke"):
                paints.append(Paint(_color(el.get("stroke")), coverage(_stroke_mask(el, xs, ys))))
            else:
                raise ValueError(f"icon.svg: unsupported element <{tag}>")

    walk(root, None)
    return paints


def render(svg: Path, size: int) -> np.ndarray:
    """The icon as a size x size RGBA uint8 array (transparent outside the shapes)."""
    rgb = np.zeros((size, size, 3))
    alpha = np.zeros((size, size))
    for paint in _paints(svg, size):
        a = paint.coverage
        out_alpha = a + alpha * (1 - a)
        safe = np.where(out_alpha > 0, out_alpha, 1)
        rgb = (np.array(paint.rgb) * a[..., None] + rgb * (alpha * (1 - a))[..., None]) / safe[..., None]
        alpha = out_alpha
    return (np.dstack([rgb, alpha[..., None]]) * 255).round().astype(np.uint8)


def png_bytes(rgba: np.ndarray) -> bytes:
    height, width, _ = rgba.shape
    rows = b"".join(b"\x00" + rgba[y].tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def write_icons(svg: Path, out_dir: Path, sizes: tuple[int, ...]) -> list[Path]:
    """Write icon-<size>.png for each size, redrawing only when icon.svg is newer."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for size in sizes:
        target = out_dir / f"icon-{size}.png"
        if not target.exists() or target.stat().st_mtime < svg.stat().st_mtime:
            target.write_bytes(png_bytes(render(svg, size)))
        written.append(target)
    return written
