"""A minimal SMTP server for the tests (no TLS): records each message's envelope and data."""
import socket
import threading
import time


class SmtpSink:
    """A minimal SMTP server (no TLS): records each message's envelope and data."""

    def __init__(self, port=0):
        self.messages = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            f = conn.makefile("rwb")

            def say(line):
                f.write(line.encode() + b"\r\n")
                f.flush()

            say("220 sink ESMTP")
            mail = {"to": [], "data": b""}
            while True:
                line = f.readline()
                if not line:
                    break
                cmd = line.decode(errors="replace").strip()
                verb = cmd.split(" ")[0].upper()
                if verb in ("EHLO", "HELO"):
                    say("250-sink")
                    say("250 8BITMIME")
                elif verb == "MAIL":
                    mail["from"] = cmd
                    say("250 ok")
                elif verb == "RCPT":
                    mail["to"].append(cmd.split(":", 1)[1].strip(" <>"))
                    say("250 ok")
                elif verb == "DATA":
                    say("354 go on")
                    data = b""
                    while True:
                        chunk = f.readline()
                        if chunk in (b".\r\n", b".\n", b""):
                            break
                        data += chunk
                    mail["data"] = data
                    self.messages.append(dict(mail))
                    mail = {"to": [], "data": b""}
                    say("250 queued")
                elif verb == "QUIT":
                    say("221 bye")
                    break
                else:
                    say("250 ok")
            conn.close()

    def wait(self, count=1, timeout=30):
        """The messages once there are `count` of them."""
        deadline = time.time() + timeout
        while len(self.messages) < count:
            assert time.time() < deadline, f"{len(self.messages)} mails after {timeout} s, wanted {count}"
            time.sleep(0.1)
        return self.messages

    def stop(self):
        self.sock.close()
