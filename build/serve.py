"""A small static file server for dist/: MIME types, byte ranges, optional sub-path and isolation headers.

GitHub Pages serves files as-is; this server does the same on 127.0.0.1, plus two switches that
tests and benchmarks need: mounting dist/ under a sub-path (`/wordcalc/`), and sending the
COOP/COEP headers that multi-threaded wasm needs (GitHub Pages cannot, so the app must not rely on
them). It answers single `Range: bytes=` requests as GitHub Pages and Hugging Face do, because a
model download that broke resumes with one.
"""

from __future__ import annotations

import functools
import http.server
import re
import threading
from pathlib import Path

MIME_TYPES = {
    ".mjs": "text/javascript",
    ".js": "text/javascript",
    ".wasm": "application/wasm",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".gguf": "application/octet-stream",
    ".whl": "application/zip",
    ".zip": "application/zip",
    ".svg": "image/svg+xml",
}


_BYTE_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class UnsatisfiableRange(ValueError):
    """The requested range starts past the end of the file (HTTP 416)."""


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """The first and last byte a `Range` header asks of a `size`-byte file.

    None for any form this server answers with the whole file, as RFC 9110 allows: several
    ranges, another unit, or a malformed value.
    """
    match = _BYTE_RANGE.fullmatch(header.strip())
    if match is None or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if not first:  # "bytes=-N": the last N bytes
        if int(last) == 0 or size == 0:
            raise UnsatisfiableRange(header)
        return max(0, size - int(last)), size - 1
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        raise UnsatisfiableRange(header)
    return start, min(int(last), size - 1) if last else size - 1


class StaticHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}
    mount = "/"
    isolation_headers = False
    range_length: int | None = None  # bytes left to send of a 206 answer

    def translate_path(self, path: str) -> str:
        if self.mount != "/":
            if not path.startswith(self.mount):
                return str(Path(self.directory) / "__outside_mount__")
            path = "/" + path[len(self.mount):]
        return super().translate_path(path)

    def send_head(self):
        self.range_length = None
        path = Path(self.translate_path(self.path))
        header = self.headers.get("Range")
        if header is None or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        try:
            span = byte_range(header, size)
        except UnsatisfiableRange:
            self.send_response(http.server.HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if span is None:
            return super().send_head()
        start, end = span
        source = path.open("rb")
        source.seek(start)
        self.send_response(http.server.HTTPStatus.PARTIAL_CONTENT)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Last-Modified", self.date_time_string(int(path.stat().st_mtime)))
        self.end_headers()
        self.range_length = end - start + 1
        return source

    def copyfile(self, source, outputfile) -> None:
        if self.range_length is None:
            super().copyfile(source, outputfile)
            return
        left = self.range_length
        while left > 0 and (block := source.read(min(left, 1 << 16))):
            outputfile.write(block)
            left -= len(block)

    def end_headers(self) -> None:
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Cache-Control", "no-cache")
        if self.isolation_headers:
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        pass


def make_server(root: Path, host: str = "127.0.0.1", port: int = 8000, mount: str = "/",
                isolation_headers: bool = False) -> http.server.ThreadingHTTPServer:
    """Bind a server for `root` (port 0 picks a free port); the caller runs serve_forever."""
    mount = "/" + mount.strip("/") + "/" if mount.strip("/") else "/"
    handler = type("Handler", (StaticHandler,), {"mount": mount, "isolation_headers": isolation_headers})
    return http.server.ThreadingHTTPServer((host, port), functools.partial(handler, directory=str(root)))


def serve_in_thread(server: http.server.ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread
