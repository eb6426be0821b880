"""A model hub on 127.0.0.1 for download tests: serves real folders the way huggingface.co does.

``GET|HEAD /<owner>/<repo>/resolve/<rev>/<file>`` answers small files directly
(200) and ``model.bin`` with a 302 to ``/blobs/<sha256>`` carrying
``X-Linked-Etag`` (its SHA-256) and ``X-Linked-Size``, as the hub does for
large files. Blobs honour ``Range: bytes=N-`` (206). Knobs for failures:
``cut_after`` (close the connection after that many body bytes of the next
blob), ``wrong_sha`` (advertise a wrong checksum), ``seconds_per_mb`` (send
blobs in 1 MiB blocks that long apart, so a client can be interrupted midway);
``ranges`` records every Range header received.
"""
from __future__ import annotations

import hashlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class HubServer:
    """``with HubServer({"Systran/faster-whisper-tiny": folder}) as hub: pull(..., base_url=hub.url)``."""

    def __init__(self, repos: dict[str, Path]) -> None:
        self.repos = repos
        self.blobs = {hashlib.sha256((folder / "model.bin").read_bytes()).hexdigest(): folder / "model.bin"
                      for folder in repos.values()}
        self.cut_after: int | None = None
        self.wrong_sha = False
        self.seconds_per_mb = 0.0
        self.ranges: list[str] = []
        self.requests = 0
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_HEAD(self) -> None:
                self.respond(body=False)

            def do_GET(self) -> None:
                self.respond(body=True)

            def respond(self, body: bool) -> None:
                hub.requests += 1
                parts = self.path.strip("/").split("/")
                if parts[0] == "blobs" and parts[1] in hub.blobs:
                    return self.send_file(hub.blobs[parts[1]], body, blob=True)
                if len(parts) == 5 and parts[2] == "resolve" and "/".join(parts[:2]) in hub.repos:
                    path = hub.repos["/".join(parts[:2])] / parts[4]
                    if path.is_file() and parts[4] == "model.bin":
                        sha = next(s for s, p in hub.blobs.items() if p == path)
                        self.send_response(302)
                        self.send_header("Location", f"/blobs/{sha}")
                        self.send_header("X-Linked-Etag", f'"{"0" * 64 if hub.wrong_sha else sha}"')
                        self.send_header("X-Linked-Size", str(path.stat().st_size))
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return None
                    if path.is_file():
                        return self.send_file(path, body, blob=False)
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None

            def send_file(self, path: Path, body: bool, blob: bool) -> None:
                data = path.read_bytes()
                start = 0
                if blob and self.headers.get("Range"):
                    hub.ranges.append(self.headers["Range"])
                    start = int(self.headers["Range"].removeprefix("bytes=").split("-")[0])
                self.send_response(206 if start else 200)
                self.send_header("Content-Length", str(len(data) - start))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                if not body:
                    return
                end = len(data)
                if blob and hub.cut_after is not None:
                    end, hub.cut_after = min(end, start + hub.cut_after), None
                block = 1 << 20 if blob and hub.seconds_per_mb else end - start
                for at in range(start, end, max(block, 1)):
                    try:
                        self.wfile.write(data[at: min(at + block, end)])
                        self.wfile.flush()
                    except OSError:  # the client went away (cancelled)
                        return
                    if blob and hub.seconds_per_mb:
                        time.sleep(hub.seconds_per_mb)
                if end < len(data):
                    self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> HubServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
