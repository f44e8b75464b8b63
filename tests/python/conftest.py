"""Starts hive-service and cortex-service (the binaries built by tests/run) on free ports,
on SQLite and on PostgreSQL, for tests that drive them with the real Python clients.

The `engine` fixture runs cortex-service with the test workers of tests/workers (real
cortexutils programs) on SQLite and PostgreSQL, each with the in-process job queue and with
RabbitMQ."""
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from urllib.parse import urlparse

import pytest
import requests

HIVE_BIN = os.environ.get("HIVE_BIN", "target/debug/hive-service")
CORTEX_BIN = os.environ.get("CORTEX_BIN", "target/debug/cortex-service")
PG = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
AMQP = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f")
CORTEX_ADMIN_KEY = "cortex-superadmin-key-for-tests-0123456789"
IN_CI = os.environ.get("CI") in ("true", "1")
WORKERS_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "workers"))
ANALYZERS_DIR = os.path.join(WORKERS_DIR, "analyzers")
RESPONDERS_DIR = os.path.join(WORKERS_DIR, "responders")


# Under pytest-xdist (tests/run runs most of the v2 suite on several workers) each worker takes its
# ports from a range of its own, below the kernel's ephemeral range: two workers never pick the
# same port, and no outgoing connection holds a port a service is about to bind.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
_PORTS = (10000 + 4000 * int(_WORKER[2:]), 4000) if _WORKER.startswith("gw") and _WORKER[2:].isdigit() else None


def free_port():
    if _PORTS is None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]
    first, size = _PORTS
    import random
    for _ in range(200):
        port = first + random.randrange(size)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {first}..{first + size}")


def _uses_rabbitmq(item):
    """Whether a test talks to RabbitMQ: a parameter id, its name or its own code says so."""
    text = item.nodeid.lower()
    if "amqp" in text or "rabbit" in text:
        return True
    try:
        import inspect
        code = inspect.getsource(item.function).lower()
    except (OSError, TypeError, AttributeError):
        return False
    return "amqp" in code or "rabbit" in code


def pytest_collection_modifyitems(config, items):
    """Marks `rabbitmq` the tests that talk to RabbitMQ: they share its queues and exchanges
    (and one restarts the broker), so tests/run runs them one at a time (`-m rabbitmq`) beside
    the others, which run on several workers (`-m "not rabbitmq" -n 2`)."""
    for item in items:
        if _uses_rabbitmq(item):
            item.add_marker(pytest.mark.rabbitmq)


# The databases this session made, dropped when it ends (pytest_sessionfinish).
_PG_DATABASES = []


def _psql(sql):
    u = urlparse(PG)
    env = dict(os.environ, PGPASSWORD=u.password or "")
    cmd = ["psql", "-h", u.hostname or "127.0.0.1", "-p", str(u.port or 5432),
           "-U", u.username or "postgres", "-d", (u.path or "/postgres")[1:] or "postgres",
           "-c", sql]
    return subprocess.run(cmd, capture_output=True, text=True, env=env)


def pg_database():
    """A fresh PostgreSQL database URL, or None (skipping loudly outside CI)."""
    name = "py_" + uuid.uuid4().hex[:16]
    u = urlparse(PG)
    r = _psql(f"CREATE DATABASE {name}")
    if r.returncode != 0:
        if IN_CI:
            pytest.fail(f"CI=true but PostgreSQL is unreachable: {r.stderr}")
        print(f"\n*** SKIPPED: PostgreSQL client tests: {r.stderr.strip()} ***\n")
        return None
    _PG_DATABASES.append(name)
    return f"{u.scheme}://{u.netloc}/{name}"


# The RabbitMQ queues this session's services were given (amqp URL, names), deleted when it ends.
_AMQP_QUEUES = []


def own_queues(amqp_url):
    """Queue names of their own for one cortex-service (and the hive-service wired to it):
    services of two tests never take each other's jobs, submissions or events, whatever runs
    at the same time. Deleted when the session ends."""
    tag = "t" + uuid.uuid4().hex[:12]
    q = {"jobs": f"cortex.jobs.{tag}", "submissions": f"cortex.requests.{tag}",
         "events": f"hive.cortex-events.{tag}"}
    _AMQP_QUEUES.append((amqp_url, [q["jobs"], q["jobs"] + ".retry", q["jobs"] + ".dead",
                                    q["submissions"], q["events"]]))
    return q


def hive_queues(cortex_env):
    """The environment that wires a hive-service to the queues of `cortex_env` (engine_env's)."""
    if not cortex_env.get("CORTEX__AMQP__URL"):
        return {}
    return {"HIVE__CORTEX__SUBMISSIONS_QUEUE": cortex_env["CORTEX__JOBS__SUBMISSIONS_QUEUE"],
            "HIVE__CORTEX__EVENTS_QUEUE": cortex_env["TEST_HIVE_EVENTS_QUEUE"]}


def pytest_sessionfinish(session, exitstatus):
    """Drops this session's databases and queues once every service stopped (what fails to
    go is left)."""
    for name in _PG_DATABASES:
        _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    if _AMQP_QUEUES:
        try:
            import pika
        except ImportError:
            return
        for url, names in _AMQP_QUEUES:
            try:
                conn = pika.BlockingConnection(pika.URLParameters(url))
                ch = conn.channel()
                for n in names:
                    ch.queue_delete(queue=n)
                conn.close()
            except Exception:  # noqa: BLE001 - a queue left behind harms no later run
                pass


def amqp_broker():
    """The RabbitMQ URL when its port answers, or None (skipping loudly outside CI)."""
    u = urlparse(AMQP)
    port = u.port or (5671 if u.scheme == "amqps" else 5672)
    try:
        with socket.create_connection((u.hostname or "127.0.0.1", port), timeout=3):
            return AMQP
    except OSError as e:
        if IN_CI:
            pytest.fail(f"CI=true but RabbitMQ is unreachable at {u.hostname}:{port}: {e}")
        print(f"\n*** SKIPPED: RabbitMQ tests: {u.hostname}:{port} unreachable: {e} ***\n")
        return None


class Service:
    def __init__(self, binary, prefix, db_url, extra, port=None):
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix=prefix.lower() + "-")
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ)
        env.update({
            f"{prefix}__HTTP__BIND": f"127.0.0.1:{self.port}",
            f"{prefix}__HTTP__WORKERS": "2",
            f"{prefix}__DATA_DIR": self.dir,
            f"{prefix}__DATABASE__URL": db_url or f"sqlite://{self.dir}/db.sqlite",
            f"{prefix}__BOOTSTRAP__ADMIN_PASSWORD": "secret",
        })
        for k, v in extra.items():  # a None value removes the variable
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        self.env = env
        self.db_url = env[f"{prefix}__DATABASE__URL"]
        self.log = None
        self.start()

    def sql(self, query):
        """The rows of a read-only query on the service's own database (tests that check what
        is stored)."""
        if self.db_url.startswith("sqlite://"):
            import sqlite3
            with sqlite3.connect(f"file:{self.db_url[len('sqlite://'):]}?mode=ro", uri=True) as db:
                return [tuple(r) for r in db.execute(query).fetchall()]
        r = subprocess.run(["psql", self.db_url, "-At", "-F", "|", "-c", query], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        return [tuple(line.split("|")) for line in r.stdout.splitlines() if line]

    def start(self):
        """Starts the binary (again, after `stop` or `kill`: same port, data and database)."""
        self.log = open(os.path.join(self.dir, "service.log"), "a")
        self.proc = subprocess.Popen([self.binary], env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
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
        raise RuntimeError(f"{self.binary} did not start; log in {self.log.name}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log and not self.log.closed:
            self.log.close()

    def kill(self):
        """SIGKILL: no clean shutdown."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.log and not self.log.closed:
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


# ---------------------------------------------------------------------------------------------
# Job engine: cortex-service with the test workers of tests/workers


def engine_env(amqp_url=None, concurrency=4):
    """Environment for a cortex-service that runs the test workers: worker folders, job pool size,
    1 s between SIGTERM and SIGKILL, RabbitMQ or not, and the running interpreter's bin
    directory first on PATH so that the scripts' `#!/usr/bin/env python3` finds cortexutils."""
    env = {
        "CORTEX__BOOTSTRAP__ADMIN_API_KEY": CORTEX_ADMIN_KEY,
        "CORTEX__ANALYZERS__PATHS": ANALYZERS_DIR,
        "CORTEX__RESPONDERS__PATHS": RESPONDERS_DIR,
        "CORTEX__JOBS__CONCURRENCY": str(concurrency),
        "CORTEX__JOBS__KILL_GRACE_SECS": "1",
        "CORTEX__AMQP__URL": amqp_url,  # None: unset, the in-process queue is used
        # Native_Mailer's relay in the tests: an SmtpSink on loopback.
        "CORTEX__NATIVE__SMTP_ALLOW": "127.0.0.1/32",
        "PATH": os.path.dirname(os.path.abspath(sys.executable)) + os.pathsep + os.environ.get("PATH", ""),
    }
    if amqp_url:
        q = own_queues(amqp_url)
        env["CORTEX__JOBS__QUEUE"] = q["jobs"]
        env["CORTEX__JOBS__SUBMISSIONS_QUEUE"] = q["submissions"]
        env["TEST_HIVE_EVENTS_QUEUE"] = q["events"]  # read by hive_queues (cortex ignores it)
    return env


def make_org_user(url, org="soc", login="lead", roles=("read", "analyze", "orgadmin")):
    """Through the superadmin key: creates organization `org` and user `login` with `roles` in it,
    returns the user's freshly renewed API key."""
    from cortex4py.api import Api  # cortex4py is absent from the thehive4py 1.x venv
    admin = Api(url, CORTEX_ADMIN_KEY)
    admin.organizations.create({"name": org, "description": f"{org} for testing", "status": "Active"})
    admin.users.create({"login": login, "name": login.title(), "roles": list(roles), "organization": org})
    return admin.users.renew_key(login)


class Engine:
    """A running cortex-service with an organization `soc` whose user `lead` is orgadmin,
    analyze and read. `api` uses lead's key, `admin` the superadmin key."""

    def __init__(self, service, key, backend, broker):
        from cortex4py.api import Api
        self.service = service
        self.url = service.url
        self.dir = service.dir
        self.key = key
        self.api = Api(service.url, key)
        self.admin = Api(service.url, CORTEX_ADMIN_KEY)
        self.backend = backend
        self.broker = broker


# Each database and each queue once: SQLite with the in-process queue (the embedded default),
# PostgreSQL with RabbitMQ (production). The other two pairings add no code path of their own
# (the queue and the store are independent) and cost CI minutes.
ENGINE_COMBOS = [("sqlite", False), ("postgres", True)]
ENGINE_IDS = ["sqlite-inproc", "postgres-amqp"]


@pytest.fixture(params=ENGINE_COMBOS, ids=ENGINE_IDS)
def engine(request):
    backend, broker = request.param
    amqp_url = None
    if broker:
        amqp_url = amqp_broker()
        if amqp_url is None:
            pytest.skip("RabbitMQ unreachable")
    s = Service(CORTEX_BIN, "CORTEX", _db_for(backend), engine_env(amqp_url))
    print(f"cortex-service ({request.node.callspec.id}) log: {s.log.name}")
    try:
        key = make_org_user(s.url)
        yield Engine(s, key, backend, broker)
    finally:
        s.stop()


# ---------------------------------------------------------------------------------------------
# hive-service and cortex-service together (issue 5): hive's Cortex connector


SERVICE_KEY = "hive-service-key-for-cortex-tests-0123456789"


class Platform:
    """cortex-service (test workers, organization `thehive` made at its first start with the
    service user `thehive` whose key hive-service holds) and hive-service wired to it as Cortex
    server `local`, over RabbitMQ (`broker`) or REST. `org_admin` is a cortex4py client of an
    orgadmin of `thehive` (to enable workers); `thehive` a thehive4py client on `main-org`."""

    def __init__(self, backend, broker, amqp_url=None, concurrency=4, hive_env=None):
        self.backend = backend
        self.broker = broker
        cortex_env = engine_env(amqp_url, concurrency)
        cortex_env["CORTEX__SERVICE_ACCOUNT__API_KEY"] = SERVICE_KEY
        self.cortex = Service(CORTEX_BIN, "CORTEX", _db_for(backend), cortex_env)
        try:
            self.hive = Service(HIVE_BIN, "HIVE", _db_for(backend), {
                "HIVE__AMQP__URL": amqp_url,
                "HIVE__CORTEX__URL": self.cortex.url,
                "HIVE__CORTEX__API_KEY": SERVICE_KEY,
                **hive_queues(cortex_env),
                **(hive_env or {}),
            })
        except Exception:
            self.cortex.stop()
            raise
        from cortex4py.api import Api
        admin = Api(self.cortex.url, CORTEX_ADMIN_KEY)
        admin.users.create({"login": "cortex-admin", "name": "Org admin", "organization": "thehive",
                            "roles": ["read", "analyze", "orgadmin"]})
        self.org_admin = Api(self.cortex.url, admin.users.renew_key("cortex-admin"))

    def enable(self, kind, name, configuration=None):
        """Enables the analyzer or responder definition `name` (e.g. `MailParser_1_0`) in
        organization `thehive`; returns the worker."""
        ep = self.org_admin.analyzers if kind == "analyzer" else self.org_admin.responders
        return ep.enable(name, {"configuration": configuration or {}, "jobCache": 0})

    def stop(self):
        self.hive.stop()
        self.cortex.stop()


PLATFORM_COMBOS = [("postgres", True), ("sqlite", False)]
PLATFORM_IDS = ["postgres-amqp", "sqlite-rest"]


@pytest.fixture(params=PLATFORM_COMBOS, ids=PLATFORM_IDS)
def platform(request):
    backend, broker = request.param
    amqp_url = None
    if broker:
        amqp_url = amqp_broker()
        if amqp_url is None:
            pytest.skip("RabbitMQ unreachable")
    # An orchestrator listening: hive's webhook endpoint `orchestrator` (switched on by the
    # tests that want it).
    from receiver import Receiver
    orchestrator = Receiver()
    p = Platform(backend, broker, amqp_url, hive_env={
        "HIVE__NOTIFICATION__WEBHOOKS__ORCHESTRATOR__URL": orchestrator.url + "/hook"})
    p.orchestrator = orchestrator
    print(f"platform ({request.node.callspec.id}) logs: {p.cortex.log.name} {p.hive.log.name}")
    try:
        yield p
    finally:
        p.stop()
        orchestrator.stop()
