#!/usr/bin/env python3
"""Echo: reports what Cortex handed over in input/input.json.

full = {data, dataType, message, config_seen} (+ filename, sha256, size for file observables),
summary = one taxonomy echo:data=<data> at level info. Config values whose name contains
key/password/secret are reported as "REMOVED" (None stays None)."""
import hashlib

from cortexutils.analyzer import Analyzer

SECRET_WORDS = ("key", "password", "secret")


class Echo(Analyzer):
    def config_seen(self):
        config = dict(self.get_param("config", {}) or {})
        for name, value in config.items():
            if value is not None and any(w in name.lower() for w in SECRET_WORDS):
                config[name] = "REMOVED"
        return config

    def run(self):
        Analyzer.run(self)
        full = {
            "data": self.get_data(),
            "dataType": self.data_type,
            "message": self.get_param("message"),
            "config_seen": self.config_seen(),
        }
        if self.data_type == "file":
            path = self.get_param("file", None, "Missing file")
            with open(path, "rb") as f:
                content = f.read()
            full["filename"] = self.get_param("filename")
            full["sha256"] = hashlib.sha256(content).hexdigest()
            full["size"] = len(content)
        self.report(full)

    def summary(self, raw):
        return {"taxonomies": [self.build_taxonomy("info", "echo", "data", raw["data"])]}


if __name__ == '__main__':
    Echo().run()
