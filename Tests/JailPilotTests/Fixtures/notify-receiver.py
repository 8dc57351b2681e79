#!/usr/bin/env python3
"""A notification receiver as a user would write one (README, "Notifications"): it checks
X-Jailpilot-Signature (t=<unix>,v1=<hex HMAC-SHA256 of "t.body">) with the shared key, refuses a
timestamp more than 300 s from now, and appends each accepted body as one JSON line to OUT.
While the file DOWN exists it answers 503 (a receiver that is down for a while).
With CERT and KEY it serves HTTPS.
Usage: notify-receiver.py PORT KEYFILE OUT DOWN [CERT KEY]"""
import hashlib, hmac, http.server, os, ssl, sys, time

port, keyfile, out, down = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
key = open(keyfile, "rb").read().split(b"\n")[0].strip()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(out + ".hits", "ab") as f:  # every request, answered or not
            f.write(b"hit\n")
        if os.path.exists(down):
            return self.answer(503, b"down")
        fields = dict(p.split("=", 1) for p in self.headers.get("X-Jailpilot-Signature", "").split(",") if "=" in p)
        expected = hmac.new(key, fields.get("t", "").encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, fields.get("v1", "")):
            return self.answer(401, b"bad signature")
        if abs(time.time() - int(fields["t"])) > 300:
            return self.answer(401, b"stale")
        with open(out, "ab") as f:
            f.write(body + b"\n")
        self.answer(200, b"ok")

    def answer(self, status, text):
        self.send_response(status)
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
if len(sys.argv) > 6:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[5], sys.argv[6])
    server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
