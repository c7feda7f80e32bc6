"""The DEMO_SERVER daemon: answers HTTP GET on a loopback port with a message.

Usage: demo_daemon.py <port> <pid file> <port file> <message>
Port 0 picks a free port; the port in use is written to <port file>.
"""

import http.server
import os
import signal
import sys


def main():
    port, pid_file, port_file, message = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    body = (message + "\n").encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *args):
            print(fmt % args, flush=True)

    server = http.server.HTTPServer(("127.0.0.1", port), Handler)
    with open(port_file, "w") as f:
        f.write(str(server.server_address[1]))
    # The pid file goes last: once it exists, the server is listening.
    with open(pid_file, "w") as f:
        f.write(str(os.getpid()))

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    finally:
        try:
            os.unlink(pid_file)
        except OSError:
            pass


if __name__ == "__main__":
    main()
