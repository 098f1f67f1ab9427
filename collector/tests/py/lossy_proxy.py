"""An HTTP proxy in front of firn-collector that can lose an answer, as a network can: the
request reaches the collector (which writes it), but the client never hears back.

usage: lossy_proxy.py TARGET_PORT CONTROL_DIR
Prints the port it listens on (loopback), then serves. Before each request it reads
CONTROL_DIR/mode:
  pass    forward, answer with the collector's answer (the default)
  drop    POST /v1/logs: forward, then close the connection without answering, append the
          request's firn-batch-seq to CONTROL_DIR/dropped, and switch the mode to refuse;
          other requests pass
  refuse  answer 503 without forwarding (the client retries later)
"""
import http.client
import http.server
import pathlib
import sys

target = int(sys.argv[1])
control = pathlib.Path(sys.argv[2])


def mode():
    try:
        return (control / "mode").read_text().strip()
    except FileNotFoundError:
        return "pass"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        m = mode()
        if m == "refuse":
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        conn = http.client.HTTPConnection("127.0.0.1", target, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        try:
            conn.request("POST", self.path, body=body, headers=headers)
            resp = conn.getresponse()
            answer = resp.read()
        except OSError:
            self.close_connection = True
            self.connection.close()
            return
        if m == "drop" and self.path == "/v1/logs" and resp.status == 200:
            (control / "mode").write_text("refuse")
            with open(control / "dropped", "a") as f:
                f.write(self.headers.get("firn-batch-seq", "") + "\n")
            self.close_connection = True
            self.connection.close()
            return
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
