"""site/sha256.mjs (the incremental SHA-256 that checks stored models) agrees with hashlib."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess

import pytest

from tests.conftest import ROOT

LENGTHS = [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 100_003]

SCRIPT = """
import { Sha256 } from %s;
const out = [];
for (const n of %s) {
  const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 131 + 7) %% 256);
  const hash = new Sha256();
  for (let at = 0; at < n; at += 1 + (at %% 97)) hash.update(bytes.subarray(at, at + 1 + (at %% 97)));
  out.push(hash.hex());
}
console.log(JSON.stringify(out));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")
def test_digests_of_uneven_pieces_match_hashlib() -> None:
    module = json.dumps((ROOT / "site" / "sha256.mjs").as_uri())
    script = SCRIPT % (module, json.dumps(LENGTHS))
    result = subprocess.run(["node", "--input-type=module", "-e", script], capture_output=True, text=True, check=True)
    expected = [hashlib.sha256(bytes((i * 131 + 7) % 256 for i in range(n))).hexdigest() for n in LENGTHS]
    assert json.loads(result.stdout) == expected
