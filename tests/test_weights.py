"""ImageNet weights: downloaded on first use into the torch hub cache and hash-checked, reused afterwards; a
corrupted file is rejected; offline, or without network, a pretrained unit is skipped naming URL and cache path.
A small state dict is served from a local HTTP server on 127.0.0.1 in place of download.pytorch.org."""

from __future__ import annotations

import hashlib
import http.server
import io
import threading
from pathlib import Path

import pytest
import torch

from bench.core.errors import UnitSkipped
from deep.nets import weights


class _Server:
    """Serves ``files`` (name -> bytes) on 127.0.0.1 and counts the requests per name."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files, self.hits = files, {}
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the base class's name
                name = self.path.lstrip("/")
                outer.hits[name] = outer.hits.get(name, 0) + 1
                body = outer.files.get(name)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}/{name}"

    def __enter__(self) -> _Server:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _state_dict_bytes() -> bytes:
    buf = io.BytesIO()
    torch.save({"weight": torch.arange(12.0).reshape(3, 4)}, buf)
    return buf.getvalue()


@pytest.fixture
def hub(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.delenv(weights.OFFLINE_ENV, raising=False)
    return tmp_path / "hub" / "checkpoints"


def test_first_use_downloads_second_use_reuses(hub, monkeypatch):
    body = _state_dict_bytes()
    name = f"tiny-{hashlib.sha256(body).hexdigest()[:8]}.pth"
    with _Server({name: body}) as server:
        monkeypatch.setattr(weights, "weights_url", lambda tv: server.url(name))
        path = weights.require_imagenet("tiny", "resnet18")
        assert path == hub / name and path.read_bytes() == body and server.hits == {name: 1}
        assert weights.require_imagenet("tiny", "resnet18") == path and server.hits == {name: 1}  # from the cache
    assert torch.equal(torch.load(path, weights_only=True)["weight"], torch.arange(12.0).reshape(3, 4))


def test_a_file_that_fails_the_hash_check_is_rejected_and_not_kept(hub, monkeypatch):
    body = _state_dict_bytes()
    name = f"tiny-{hashlib.sha256(body).hexdigest()[:8]}.pth"
    with _Server({name: body[:-10] + b"corrupted!"}) as server:
        monkeypatch.setattr(weights, "weights_url", lambda tv: server.url(name))
        with pytest.raises(UnitSkipped, match="failed the hash check"):
            weights.require_imagenet("tiny", "resnet18")
    assert not (hub / name).exists() and not list(hub.glob("*") if hub.exists() else [])


def test_offline_skips_without_a_request_naming_url_and_cache_path(hub, monkeypatch):
    with _Server({}) as server:
        monkeypatch.setattr(weights, "weights_url", lambda tv: server.url("tiny-0123abcd.pth"))
        monkeypatch.setenv(weights.OFFLINE_ENV, "1")
        with pytest.raises(UnitSkipped) as err:
            weights.require_imagenet("tiny", "resnet18")
        assert server.hits == {}
    msg = str(err.value)
    assert server.url("tiny-0123abcd.pth") in msg and str(hub / "tiny-0123abcd.pth") in msg and "offline" in msg


def test_no_network_skips_naming_url_and_cache_path(hub, monkeypatch):
    with _Server({}) as server:  # answers 404, as an unreachable mirror would fail
        monkeypatch.setattr(weights, "weights_url", lambda tv: server.url("tiny-0123abcd.pth"))
        with pytest.raises(UnitSkipped, match="could not be downloaded") as err:
            weights.require_imagenet("tiny", "resnet18")
    assert str(hub / "tiny-0123abcd.pth") in str(err.value)


def test_a_run_records_the_skip_of_a_pretrained_model(tmp_path, capsys, monkeypatch):
    from bench.cli import main
    from bench.results.folder import RunFolder

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    assert main(["run", "--protocol", "random", "--dataset", "synth-lab:subjects=12,n=144", "--model", "resnet18",
                 "--out", str(tmp_path), "--no-progress", "--name", "r"]) == 0
    (unit,) = RunFolder(tmp_path / "r").read_units()
    assert unit["status"] == "skipped"
    assert "https://download.pytorch.org/models/resnet18-f37072fd.pth" in unit["message"]
    assert str(tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth") in unit["message"]
