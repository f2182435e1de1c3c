#!/usr/bin/env python3
"""wordcalc's one entry point: `serve` (build + serve on 127.0.0.1) and `test` (build + pytest).

It prepares what it needs first, idempotently: a virtualenv in .venv with the dev dependencies
from pyproject.toml, `npm ci` for the JS dependencies, and (for tests) Debian's Chromium.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
DIST = ROOT / "dist"


def _stamp_ok(stamp: Path, *inputs: Path) -> bool:
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in inputs)).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return True
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text("")
    return False


def _write_stamp(stamp: Path, *inputs: Path) -> None:
    stamp.write_text(hashlib.sha256(b"".join(p.read_bytes() for p in inputs)).hexdigest())


def ensure_venv() -> None:
    """Re-run this script inside .venv, creating it and installing dev dependencies if needed."""
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    stamp = VENV / ".wordcalc-deps"
    pyproject = ROOT / "pyproject.toml"
    if not _stamp_ok(stamp, pyproject):
        meta = tomllib.loads(pyproject.read_text())["project"]
        deps = [*meta["dependencies"], *meta["optional-dependencies"]["dev"]]
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *deps], check=True)
        _write_stamp(stamp, pyproject)
    if Path(sys.prefix).resolve() != VENV.resolve():
        os.execv(str(python), [str(python), *sys.argv])


def ensure_node_modules() -> None:
    stamp = ROOT / "node_modules" / ".wordcalc-lock"
    lock = ROOT / "package-lock.json"
    if not _stamp_ok(stamp, lock):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=ROOT, check=True)
        _write_stamp(stamp, lock)


def ensure_chromium() -> None:
    if shutil.which("chromium"):
        return
    if os.geteuid() != 0:
        raise SystemExit("Chromium is missing: run `sudo apt-get install -y chromium`")
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def build() -> None:
    sys.path.insert(0, str(ROOT / "build"))
    from assemble import assemble

    info = assemble(DIST)
    print(f"built {DIST} (version {info['version']}, model {info['model']['name']})")


def serve(port: int, mount: str) -> None:
    from serve import make_server

    server = make_server(DIST, port=port, mount=mount)
    host, bound = server.server_address[:2]
    print(f"wordcalc is served at http://{host}:{bound}{'/' + mount.strip('/') + '/' if mount.strip('/') else '/'}"
          "  (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="assemble dist/")
    serve_cmd = sub.add_parser("serve", help="assemble dist/ and serve it on 127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8000)
    serve_cmd.add_argument("--mount", default="/", help="serve under this sub-path, e.g. /wordcalc/")
    sub.add_parser("test", help="assemble dist/ and run the whole test suite; other arguments go to pytest")
    args, pytest_args = parser.parse_known_args()
    if pytest_args and args.command != "test":
        parser.error(f"unrecognized arguments: {' '.join(pytest_args)}")

    ensure_venv()
    ensure_node_modules()
    if args.command == "test":
        ensure_chromium()
    build()
    if args.command == "serve":
        serve(args.port, args.mount)
    elif args.command == "test":
        result = subprocess.run([sys.executable, "-m", "pytest", *pytest_args], cwd=ROOT)
        sys.exit(result.returncode)


if __name__ == "__main__":
    main()
