#!/usr/bin/env python3
"""Crash: raises before writing output/output.json, so the only trace is the Python traceback
on stderr, which Cortex turns into the job's errorMessage."""
from cortexutils.analyzer import Analyzer


class Crash(Analyzer):
    def run(self):
        Analyzer.run(self)
        raise RuntimeError("crash-analyzer exploded")


if __name__ == '__main__':
    Crash().run()
