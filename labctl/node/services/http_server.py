#!/usr/bin/env python3
"""The course's web server (its "PCAP Example"), runnable in a lab node.

Answers every GET with `<HTML><h1>Hello World!</h1></HTML>`, gzip-compressed
with `content-encoding: gzip` when the request's Accept-Encoding contains
gzip, always with content-length. Logs each request as
`[MM/DD/YYYY HH:MM:SS] - client_ip:client_port - GET /path HTTP/1.1 200`.
The course imports netifaces to print the default interface and its MAC; a
lab image has no netifaces, so the same facts are read from /proc and /sys.
"""

import argparse
from datetime import datetime
from gzip import GzipFile
from http.server import SimpleHTTPRequestHandler
from io import BytesIO
from socketserver import ThreadingTCPServer


def default_interface():
    with open("/proc/net/route") as routes:
        for line in routes.readlines()[1:]:
            fields = line.split()
            if fields[1] == "00000000":
                return fields[0]
    return "eth0"  # an internal lab network has no default route


def print_interface():
    iface = default_interface()
    try:
        with open(f"/sys/class/net/{iface}/address") as f:
            mac = f.read().strip()
    except OSError:
        mac = "unknown"
    print("The default network interface is: ", iface)
    print("The default network interface mac address is: ", mac)


class Server(SimpleHTTPRequestHandler):
    gzip_enabled = True

    def do_GET(self):
        compressed = False
        content = b"<HTML><h1>Hello World!</h1></HTML>"
        if len(content) > 0 and self.gzip_enabled and "accept-encoding" in self.headers:  # noqa: SIM102 - as the course writes it
            if "gzip" in self.headers["accept-encoding"]:
                bytes_ = BytesIO()
                with GzipFile(fileobj=bytes_, mode="w", compresslevel=5) as f:
                    f.write(content)
                content = bytes_.getvalue()
                compressed = True
        self.send_response(200)
        if compressed:
            self.send_header("content-encoding", "gzip")
        self.send_header("content-length", len(content))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, format, *args):
        print("[{}] - {}:{} - {} {}".format(
            datetime.now().strftime("%m/%d/%Y %H:%M:%S"),
            self.client_address[0], self.client_address[1], args[0], args[1]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--no-gzip", action="store_true")
    args = parser.parse_args()
    Server.gzip_enabled = not args.no_gzip
    print_interface()
    ThreadingTCPServer.allow_reuse_address = True
    ThreadingTCPServer.daemon_threads = True
    with ThreadingTCPServer(("0.0.0.0", args.port), Server) as httpd:
        print(f"Serving HTTP on 0.0.0.0 port {args.port}")
        httpd.serve_forever()


if __name__ == "__main__":
    main()
