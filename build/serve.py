"""A small static file server for dist/: correct MIME types, optional sub-path and isolation headers.

GitHub Pages serves files as-is; this server does the same on 127.0.0.1, plus two switches that
tests and benchmarks need: mounting dist/ under a sub-path (`/wordcalc/`), and sending the
COOP/COEP headers that multi-threaded wasm needs (GitHub Pages cannot, so the app must not rely on
them).
"""

from __future__ import annotations

import functools
import http.server
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


class StaticHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}
    mount = "/"
    isolation_headers = False

    def translate_path(self, path: str) -> str:
        if self.mount != "/":
            if not path.startswith(self.mount):
                return str(Path(self.directory) / "__outside_mount__")
            path = "/" + path[len(self.mount):]
        return super().translate_path(path)

    def end_headers(self) -> None:
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
