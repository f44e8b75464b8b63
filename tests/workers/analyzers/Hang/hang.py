#!/usr/bin/env python3
"""Hang: ignores SIGTERM, spawns a child that ignores SIGTERM too and keeps stdout/stderr open,
writes both pids to <config.pid_dir>/hang.pid and hang-child.pid, then sleeps forever.
Only a SIGKILL sent to the whole process group ends both."""
import os
import signal
import subprocess
import sys
import time

from cortexutils.analyzer import Analyzer

CHILD = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True: time.sleep(3600)\n"


def write_pid(directory, name, pid):
    tmp = os.path.join(directory, name + ".tmp")
    with open(tmp, "w") as f:
        f.write("%d\n" % pid)
    os.replace(tmp, os.path.join(directory, name))


class Hang(Analyzer):
    def run(self):
        Analyzer.run(self)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        pid_dir = self.get_param("config.pid_dir", None, "Missing pid_dir")
        child = subprocess.Popen([sys.executable, "-c", CHILD])
        write_pid(pid_dir, "hang-child.pid", child.pid)
        write_pid(pid_dir, "hang.pid", os.getpid())
        print("hang: sleeping forever", flush=True)
        while True:
            time.sleep(3600)


if __name__ == '__main__':
    Hang().run()
