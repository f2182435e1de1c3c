"""Debian Chromium for tests and benchmarks: the flags that give headless WebGPU on a CPU machine.

SwiftShader provides WebGPU with `--enable-unsafe-webgpu`; without that flag `requestAdapter()`
returns null, which is how the no-WebGPU path is tested. The background-networking flags stop
Chromium from calling home (this machine has no network, and tests count every request).
"""

from __future__ import annotations

import shutil

BASE_ARGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WEBGPU_ARG = "--enable-unsafe-webgpu"


class ChromiumMissing(RuntimeError):
    pass


def launch(playwright, webgpu: bool = True, extra_args: tuple[str, ...] = ()):
    executable = shutil.which("chromium")
    if not executable:
        raise ChromiumMissing("Debian Chromium is not installed (apt-get install chromium)")
    args = [*BASE_ARGS, *([WEBGPU_ARG] if webgpu else []), *extra_args]
    return playwright.chromium.launch(executable_path=executable, args=args)
