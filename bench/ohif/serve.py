"""One origin for both viewers: OHIF's built files, and everything else forwarded to our server.

    python bench/ohif/serve.py --dist DIR --upstream http://127.0.0.1:8000 --port 8100 \\
        [--app-config FILE]

OHIF reads DICOMweb with plain (non-credentialed) requests and our server sends no CORS headers,
so OHIF must be served from the origin it reads from. This server gives it one: a path that is a
file of OHIF's dist (or /app-config.js, replaced by --app-config) is served from disk; a path
under one of our server's prefixes (/dicomweb/, /api/, /static/, /tasks/, ...) is forwarded to
--upstream unchanged (cookies included, so our session authenticates OHIF's requests too); any
other path is OHIF's index.html (its client-side routes, e.g. /viewer).

The benchmark runs our viewer through this same hop, so the ratio compares viewers, not the
proxy. Forwarding uses one keep-alive connection to the upstream per thread. Stdlib only.
"""

from __future__ import annotations

import argparse
import http.client
import mimetypes
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

OURS = ("/dicomweb/", "/api/", "/static/", "/tasks/", "/accounts/", "/projects/", "/admin/")
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}
# Names with a content hash (1602.bundle.94f12cceab7c2762.js, 0ddf166f7a343eda.wasm) never
# change: cached for good, as a production deployment of OHIF would serve them.
HASHED = re.compile(r"(^|[.-])[0-9a-f]{16}\.(js|wasm|css|woff2)$")
mimetypes.add_type("application/wasm", ".wasm")
mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("text/javascript", ".mjs")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    dist: Path
    app_config: bytes | None
    upstream: tuple[str, int]
    local = threading.local()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.route()

    def do_HEAD(self) -> None:
        self.route()

    def do_POST(self) -> None:
        self.route()

    def do_PUT(self) -> None:
        self.route()

    def do_DELETE(self) -> None:
        self.route()

    def route(self) -> None:
        path = urlsplit(self.path).path
        if path.startswith(OURS) or path == "/healthz":
            self.forward()
        elif path == "/app-config.js" and self.app_config is not None:
            self.send_bytes(self.app_config, "text/javascript", "no-cache")
        else:
            self.send_file(path)

    # --- OHIF's files ---------------------------------------------------------------------
    def send_file(self, path: str) -> None:
        root = self.dist.resolve()
        target = (root / path.lstrip("/")).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            target = root / "index.html"  # the SPA's own routes
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        cache = "public, max-age=31536000, immutable" if HASHED.search(target.name) else "no-cache"
        self.send_bytes(target.read_bytes(), kind, cache)

    def send_bytes(self, body: bytes, kind: str, cache: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    # --- our server -----------------------------------------------------------------------
    def upstream_connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(*self.upstream, timeout=120)
            self.local.conn = conn
        return conn

    def forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        for attempt in (1, 2):
            conn = self.upstream_connection()
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()  # de-chunked; sent on with a Content-Length
                break
            except (http.client.HTTPException, ConnectionError):
                conn.close()
                self.local.conn = None
                if attempt == 2:
                    self.send_error(502, "upstream failed")
                    return
        if response.will_close:
            conn.close()
            self.local.conn = None
        self.send_response(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, required=True, help="OHIF's built dist/ folder")
    parser.add_argument("--upstream", required=True, help="our server, http://host:port")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--app-config", type=Path, help="served as /app-config.js")
    args = parser.parse_args()
    upstream = urlsplit(args.upstream)
    Handler.dist = args.dist
    Handler.app_config = args.app_config.read_bytes() if args.app_config else None
    Handler.upstream = (upstream.hostname or "127.0.0.1", upstream.port or 80)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.request_queue_size = 64
    print(f"serving {args.dist} and {args.upstream} on http://127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
