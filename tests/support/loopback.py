"""An HTTP server on 127.0.0.1 for the tests of fetching: it serves files
from memory, counts requests, and can cut transfers short or fail."""

import http.server
import threading


class Loopback(object):
    """Serves ``files`` (name -> bytes) at ``self.base``.

    Attributes:
        requests (list of str): the paths asked for, in order.
        truncate (dict): name -> how many of its next answers send only
            half the bytes (announcing them all) and close.
        fail (dict): name -> how many of its next answers are a 503.
    """

    def __init__(self, files):
        self.files = dict(files)
        self.requests = []
        self.truncate = {}
        self.fail = {}
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.lstrip('/')
                server.requests.append(name)
                if name not in server.files:
                    self.send_error(404)
                    return
                if server.fail.get(name):
                    server.fail[name] -= 1
                    self.send_error(503)
                    return
                body = server.files[name]
                self.send_response(200)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                if server.truncate.get(name):
                    server.truncate[name] -= 1
                    self.wfile.write(body[:len(body) // 2])
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                                     Handler)
        self.base = 'http://127.0.0.1:{}'.format(self.httpd.server_port)
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
