"""build/serve.py answers byte ranges like GitHub Pages and Hugging Face (a broken download resumes)."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from serve import UnsatisfiableRange, byte_range, make_server, serve_in_thread  # build/ is on sys.path (conftest)


@pytest.mark.parametrize(("header", "expected"), [
    ("bytes=0-", (0, 999)),
    ("bytes=100-199", (100, 199)),
    ("bytes=900-5000", (900, 999)),
    ("bytes=-10", (990, 999)),
    ("bytes=-5000", (0, 999)),
    ("bytes=0-1,5-6", None),
    ("items=0-1", None),
    ("bytes=20-10", None),
    ("bytes=-", None),
])
def test_byte_range(header: str, expected) -> None:
    assert byte_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=-0"])
def test_ranges_past_the_end_are_unsatisfiable(header: str) -> None:
    with pytest.raises(UnsatisfiableRange):
        byte_range(header, 1000)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    (root / "model.gguf").write_bytes(bytes(range(256)) * 4)
    server = make_server(root, port=0)
    serve_in_thread(server)
    yield f"http://127.0.0.1:{server.server_address[1]}/model.gguf", root
    server.shutdown()
    server.server_close()


def get(url: str, headers: dict[str, str]):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_a_range_is_answered_with_206_and_only_its_bytes(served) -> None:
    url, root = served
    status, headers, body = get(url, {"Range": "bytes=1000-"})
    assert status == 206
    assert headers["Content-Range"] == "bytes 1000-1023/1024"
    assert headers["Content-Length"] == "24"
    assert body == (root / "model.gguf").read_bytes()[1000:]


def test_without_a_range_the_whole_file_and_accept_ranges(served) -> None:
    url, root = served
    status, headers, body = get(url, {})
    assert (status, headers["Accept-Ranges"], body) == (200, "bytes", (root / "model.gguf").read_bytes())


def test_a_range_past_the_end_is_416(served) -> None:
    url, _ = served
    status, headers, _ = get(url, {"Range": "bytes=5000-"})
    assert (status, headers["Content-Range"]) == (416, "bytes */1024")


def test_several_ranges_get_the_whole_file(served) -> None:
    url, _ = served
    status, _, body = get(url, {"Range": "bytes=0-1,5-6"})
    assert status == 200 and len(body) == 1024
