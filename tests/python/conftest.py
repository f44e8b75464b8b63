"""Starts hive-service and cortex-service (the binaries built by tests/run) on free ports,
on SQLite and on PostgreSQL, for tests that drive them with the real Python clients."""
import os
import socket
import subprocess
import tempfile
import time
import uuid
from urllib.parse import urlparse

import pytest
import requests

HIVE_BIN = os.environ.get("HIVE_BIN", "target/debug/hive-service")
CORTEX_BIN = os.environ.get("CORTEX_BIN", "target/debug/cortex-service")
PG = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
CORTEX_ADMIN_KEY = "cortex-superadmin-key-for-tests-0123456789"
IN_CI = os.environ.get("CI") in ("true", "1")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_database():
    """A fresh PostgreSQL database URL, or None (skipping loudly outside CI)."""
    name = "py_" + uuid.uuid4().hex[:16]
    u = urlparse(PG)
    env = dict(os.environ, PGPASSWORD=u.password or "")
    cmd = ["psql", "-h", u.hostname or "127.0.0.1", "-p", str(u.port or 5432),
           "-U", u.username or "postgres", "-d", (u.path or "/postgres")[1:] or "postgres",
           "-c", f"CREATE DATABASE {name}"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        if IN_CI:
            pytest.fail(f"CI=true but PostgreSQL is unreachable: {r.stderr}")
        print(f"\n*** SKIPPED: PostgreSQL client tests: {r.stderr.strip()} ***\n")
        return None
    return f"{u.scheme}://{u.netloc}/{name}"


class Service:
    def __init__(self, binary, prefix, db_url, extra):
        self.dir = tempfile.mkdtemp(prefix=prefix.lower() + "-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ)
        env.update({
            f"{prefix}__HTTP__BIND": f"127.0.0.1:{self.port}",
            f"{prefix}__HTTP__WORKERS": "2",
            f"{prefix}__DATA_DIR": self.dir,
            f"{prefix}__DATABASE__URL": db_url or f"sqlite://{self.dir}/db.sqlite",
            f"{prefix}__BOOTSTRAP__ADMIN_PASSWORD": "secret",
        })
        env.update(extra)
        self.log = open(os.path.join(self.dir, "service.log"), "w")
        self.proc = subprocess.Popen([binary], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if requests.get(self.url + "/api/status", timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{binary} did not start; log in {self.log.name}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


def _db_for(backend):
    if backend == "sqlite":
        return None
    url = pg_database()
    if url is None:
        pytest.skip("PostgreSQL unreachable")
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request):
    return request.param


@pytest.fixture
def hive(backend):
    s = Service(HIVE_BIN, "HIVE", _db_for(backend), {})
    yield s
    s.stop()


@pytest.fixture
def cortex(backend):
    s = Service(CORTEX_BIN, "CORTEX", _db_for(backend), {"CORTEX__BOOTSTRAP__ADMIN_API_KEY": CORTEX_ADMIN_KEY})
    yield s
    s.stop()
