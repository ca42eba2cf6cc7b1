# test/json_http.py — what the tests' scripted HTTP/1.1 servers share (test/t/45_emulate.sh,
# 48_emulate_streams.sh): keep-alive, no request log, JSON answers with Content-Length, a
# threaded server on 127.0.0.1. Run with PYTHONPATH=test.
import http.server
import json


class JsonHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *a):
        pass

    def answer(self, code, body, extra=()):
        b = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(b)


def serve(handler, port):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    srv.daemon_threads = True
    srv.serve_forever()
