"""A local webhook receiver for the notification tests: an HTTP server on a free port that
records every POST (path, headers, JSON body, time), and can be switched to fail (503) or
to stop listening, as a receiver that goes down and comes back."""
import hashlib
import hmac
import http.server
import json
import socket
import threading
import time


class Receiver:
    def __init__(self):
        self.calls = []
        self.lock = threading.Lock()
        self.failing = False
        self.server = None
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        me = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(n)
                if me.failing:
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                with me.lock:
                    me.calls.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                     "raw": raw, "body": json.loads(raw), "at": time.time()})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def bodies(self, path=None):
        with self.lock:
            return [c["body"] for c in self.calls if path is None or c["path"] == path]

    def received(self, path=None):
        with self.lock:
            return [c for c in self.calls if path is None or c["path"] == path]

    def wait(self, pred, timeout=30, path=None):
        """The calls (to `path`) once `pred(calls)` holds; fails after `timeout` seconds."""
        deadline = time.time() + timeout
        while True:
            calls = self.received(path)
            if pred(calls):
                return calls
            assert time.time() < deadline, f"receiver: condition not met after {timeout} s; got {len(calls)} calls: " + \
                json.dumps([(c["path"], c["body"].get("objectType"), c["body"].get("operation")) for c in calls])[:2000]
            time.sleep(0.1)


def signed(call, secret):
    """Whether a call carries the HMAC-SHA256 of its body in X-Hive-Signature."""
    want = "sha256=" + hmac.new(secret.encode(), call["raw"], hashlib.sha256).hexdigest()
    return hmac.compare_digest(call["headers"].get("x-hive-signature", ""), want)
