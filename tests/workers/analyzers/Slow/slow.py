#!/usr/bin/env python3
"""Slow: sleeps config.sleep seconds, then appends "<data> <parent pid>\n" to config.log_path as
its last step before reporting. The log counts completed runs and tells which service
instance (the parent process) ran each job."""
import os
import time

from cortexutils.analyzer import Analyzer


class Slow(Analyzer):
    def run(self):
        Analyzer.run(self)
        seconds = float(self.get_param("config.sleep", 1))
        log_path = self.get_param("config.log_path", None, "Missing log_path")
        data = self.get_data()
        time.sleep(seconds)
        ppid = os.getppid()
        with open(log_path, "a") as log:
            log.write("%s %d\n" % (data, ppid))
        self.report({"data": data, "slept": seconds, "ppid": ppid})


if __name__ == '__main__':
    Slow().run()
