#!/usr/bin/env python3
"""MailParser: an EmlParser-like analyzer built on the standard `email` package only.

For a file observable holding an e-mail it reports `full` = {subject, from, to, date,
relay_ips (bracketed IPv4 of the Received headers), urls (http(s) URLs of the text/plain and
text/html parts, decoded, de-duplicated, first-seen order), attachments [{filename,
content_type, size, sha256, md5}]}, taxonomies MailParser/Attachments and MailParser/Urls
(suspicious when there are URLs), and, without relying on auto-extraction, the artifacts:
each relay ip, each url, the sender address (mail), each attachment's sha256 (hash) and each
attachment as a file, all tagged autoImport:true. A file that is not an e-mail gives a report
with empty lists rather than an error."""
import email
import email.policy
import hashlib
import os
import re
import shutil
import tempfile

from cortexutils.analyzer import Analyzer

RELAY_IP = re.compile(r"\[(\d{1,3}(?:\.\d{1,3}){3})\]")
URL = re.compile(r"https?://[^\s\"'<>()\[\]{}]+", re.IGNORECASE)
MAIL_HEADERS = ("from", "to", "subject", "date", "received", "message-id")


def header(msg, name):
    try:
        value = msg[name]
    except Exception:  # a malformed header must not end the job
        return ""
    return "" if value is None else str(value)


def sender_address(msg):
    try:
        addresses = msg["from"].addresses
        return addresses[0].addr_spec if addresses else ""
    except Exception:
        match = re.search(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", header(msg, "from"))
        return match.group(0) if match else ""


def unique(values):
    return list(dict.fromkeys(values))


def part_text(part):
    try:
        return part.get_content()
    except Exception:
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", "replace")


def part_bytes(part):
    payload = part.get_payload(decode=True)
    if payload is None:  # e.g. an attached message/rfc822
        inner = part.get_payload()
        if isinstance(inner, list) and inner:
            return inner[0].as_bytes()
        return str(inner or "").encode("utf-8", "replace")
    return payload


def parse(raw):
    """(full report, sender address, [(filename, bytes)]) of the bytes of a message."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    full = {"subject": "", "from": "", "to": "", "date": "",
            "relay_ips": [], "urls": [], "attachments": []}
    if not any(name in msg for name in MAIL_HEADERS):
        return full, "", []  # not an e-mail
    for name in ("subject", "from", "to", "date"):
        full[name] = header(msg, name)

    ips = []
    for received in msg.get_all("received") or []:
        ips += RELAY_IP.findall(str(received))
    full["relay_ips"] = unique(ips)

    urls, attachments = [], []
    for part in msg.walk():
        if part.is_multipart():
            continue
        filename = part.get_filename()
        if part.get_content_disposition() == "attachment" or filename:
            content = part_bytes(part)
            name = os.path.basename(filename or "") or "attachment-%d" % (len(attachments) + 1)
            attachments.append((name, content))
            full["attachments"].append({
                "filename": name,
                "content_type": part.get_content_type(),
                "size": len(content),
                "sha256": hashlib.sha256(content).hexdigest(),
                "md5": hashlib.md5(content).hexdigest(),
            })
        elif part.get_content_type() in ("text/plain", "text/html"):
            urls += [u.rstrip(".,;:!?") for u in URL.findall(part_text(part))]
    full["urls"] = unique(urls)
    return full, sender_address(msg), attachments


class MailParser(Analyzer):
    def run(self):
        Analyzer.run(self)
        path = self.get_param("file", None, "Missing file")
        with open(path, "rb") as f:
            raw = f.read()
        try:
            full, self.sender, self.attachments = parse(raw)
        except Exception:  # whatever the parser chokes on is not an e-mail
            full, self.sender, self.attachments = parse(b"")
        self.workdir = tempfile.mkdtemp(prefix="mailparser-")
        try:
            self.report(full)  # artifacts() writes the attachments under workdir
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def summary(self, raw):
        urls = len(raw["urls"])
        return {"taxonomies": [
            self.build_taxonomy("info", "MailParser", "Attachments", len(raw["attachments"])),
            self.build_taxonomy("suspicious" if urls else "info", "MailParser", "Urls", urls),
        ]}

    def artifacts(self, raw):
        tags = ["autoImport:true"]
        found = [self.build_artifact("ip", ip, tags=list(tags)) for ip in raw["relay_ips"]]
        found += [self.build_artifact("url", url, tags=list(tags)) for url in raw["urls"]]
        if self.sender:
            found.append(self.build_artifact("mail", self.sender, tags=list(tags)))
        found += [self.build_artifact("hash", a["sha256"], tags=list(tags)) for a in raw["attachments"]]
        for i, (name, content) in enumerate(self.attachments):
            folder = os.path.join(self.workdir, str(i))  # one folder each: names may repeat
            os.mkdir(folder)
            path = os.path.join(folder, name)
            with open(path, "wb") as f:
                f.write(content)
            found.append(self.build_artifact("file", path, tags=list(tags)))
        return found


if __name__ == '__main__':
    MailParser().run()
