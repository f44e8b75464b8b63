#!/usr/bin/env python3
"""Taxo: fixed taxonomies (info, suspicious with a number value, malicious), three artifacts
(ip with tags/message/tlp 3, domain with defaults, a file it writes itself) and one operation.
The test suite knows EVIDENCE and checks the sha256 of the file served by /api/datastore."""
import os
import shutil
import tempfile

from cortexutils.analyzer import Analyzer

EVIDENCE_NAME = "taxo-evidence.txt"
EVIDENCE = b"taxo evidence\n\x00\x01\x02 binary tail \xff\n"


class Taxo(Analyzer):
    def run(self):
        Analyzer.run(self)
        workdir = tempfile.mkdtemp(prefix="taxo-")
        try:
            self.evidence = os.path.join(workdir, EVIDENCE_NAME)
            with open(self.evidence, "wb") as f:
                f.write(EVIDENCE)
            self.report({"data": self.get_data(), "verdict": "bad"})
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def summary(self, raw):
        return {"taxonomies": [
            self.build_taxonomy("info", "taxo", "seen", raw["data"]),
            self.build_taxonomy("suspicious", "taxo", "score", 42),
            self.build_taxonomy("malicious", "taxo", "verdict", raw["verdict"]),
        ]}

    def artifacts(self, raw):
        return [
            self.build_artifact("ip", "10.20.30.40", tags=["autoImport:true"],
                                message="seen by taxo", tlp=3),
            self.build_artifact("domain", "c2.taxo.example"),
            self.build_artifact("file", self.evidence, tags=["evidence"]),
        ]

    def operations(self, raw):
        return [self.build_operation("AddTagToArtifact", tag="taxo-seen")]


if __name__ == '__main__':
    Taxo().run()
