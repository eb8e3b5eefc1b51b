#!/usr/bin/env python3
"""A client of the mzt Conductor service using only Python's standard library.

It speaks Connect's HTTP + JSON protocol to a conductor's api.sock (see
PROTOCOL.md): unary calls are one JSON POST each; Events is a server stream
of enveloped JSON messages (a flags byte, a 4-byte big-endian length, the
message), resumed after the last seq seen when the connection is lost.

    python3 mzt_client.py status
    python3 mzt_client.py run score.toml     # submit, follow events to the end, print the job
"""

import base64
import http.client
import json
import os
import socket
import struct
import sys
import time

TERMINAL = {"completed", "failed", "cancelled"}


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP/1.1 over a Unix socket."""

    def __init__(self, path, timeout=30):
        super().__init__("mzt", timeout=timeout)
        self.path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.path)
        self.sock = sock


class ConductorError(Exception):
    """An error the conductor answered: Connect code, message, and its own code and hint."""

    def __init__(self, body):
        self.code = body.get("code", "unknown")
        self.message = body.get("message", "")
        self.mzt_code, self.hint = "", ""
        for d in body.get("details", []):
            if d.get("type") == "mzt.v1.Error":
                debug = d.get("debug", {})
                self.mzt_code, self.hint = debug.get("code", ""), debug.get("hint", "")
        super().__init__(f"{self.code}: {self.message}")


def default_socket():
    home = os.environ.get("MARIANNE_HOME") or os.path.expanduser("~/.marianne")
    return os.path.join(home, "api.sock")


class Conductor:
    def __init__(self, socket_path=None):
        self.socket_path = socket_path or default_socket()

    def call(self, rpc, request):
        """One unary RPC: JSON in, JSON out."""
        conn = UnixHTTPConnection(self.socket_path)
        try:
            conn.request("POST", f"/mzt.v1.Conductor/{rpc}", body=json.dumps(request),
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            body = json.loads(resp.read() or b"{}")
            if resp.status != 200:
                raise ConductorError(body)
            return body
        finally:
            conn.close()

    def health(self):
        return self.call("Health", {"minProtocolVersion": 1, "maxProtocolVersion": 1})

    def status(self):
        return self.call("Status", {})

    def submit(self, score_path):
        path = os.path.abspath(score_path)
        with open(path, "rb") as f:
            source = f.read()
        return self.call("Submit", {"scorePath": path, "scoreSource": base64.b64encode(source).decode()})

    def job(self, job_id):
        return self.call("Job", {"jobId": job_id})

    def _stream(self, rpc, request):
        """One server stream: yields each message; raises ConductorError on an error end."""
        conn = UnixHTTPConnection(self.socket_path, timeout=None)
        try:
            body = json.dumps(request).encode()
            conn.request("POST", f"/mzt.v1.Conductor/{rpc}", body=struct.pack(">BI", 0, len(body)) + body,
                         headers={"Content-Type": "application/connect+json"})
            resp = conn.getresponse()
            if resp.status != 200:
                raise ConductorError(json.loads(resp.read() or b"{}"))
            while True:
                head = resp.read(5)
                if len(head) < 5:
                    raise ConnectionError("stream cut")
                flags, size = struct.unpack(">BI", head)
                msg = json.loads(resp.read(size) or b"{}")
                if flags & 2:  # end of stream
                    if "error" in msg:
                        raise ConductorError(msg["error"])
                    return
                yield msg
        finally:
            conn.close()

    def events(self, job_id="", after_seq=0):
        """Follows events forever, redialling with backoff and resuming after the last seq."""
        wait = 0.1
        while True:
            try:
                for e in self._stream("Events", {"jobId": job_id, "follow": True, "afterSeq": str(after_seq)}):
                    seq = int(e.get("seq", "0"))
                    if seq == 0:  # events.dropped: resume from the store
                        break
                    if seq <= after_seq:
                        continue
                    after_seq, wait = seq, 0.1
                    yield e
            except (ConnectionError, OSError, http.client.HTTPException):
                pass
            time.sleep(wait)
            wait = min(wait * 2, 5)


def main(argv):
    c = Conductor()
    if len(argv) == 2 and argv[1] == "status":
        print(json.dumps(c.status()))
        return 0
    if len(argv) == 3 and argv[1] == "run":
        h = c.health()
        if h.get("negotiatedProtocolVersion", 0) == 0:
            print("Error: this client speaks protocol 1, the conductor does not", file=sys.stderr)
            return 1
        job_id = c.submit(argv[2])["jobId"]
        print(f"submitted {job_id}")
        for e in c.events(job_id):
            print(e.get("seq"), e.get("kind"), e.get("sheet", "0"), e.get("status", ""))
            if e.get("kind") == "job.status" and e.get("status") in TERMINAL:
                break
        job = c.job(job_id)["job"]
        print(f"job {job_id} {job['status']}")
        return 0 if job["status"] == "completed" else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except ConductorError as e:
        print(f"Error: {e.message}", file=sys.stderr)
        if e.hint:
            print(f"Try: {e.hint}", file=sys.stderr)
        sys.exit(1)
    except (FileNotFoundError, ConnectionRefusedError):
        print("Error: conductor is not running", file=sys.stderr)
        print("Try: mzt start", file=sys.stderr)
        sys.exit(1)
