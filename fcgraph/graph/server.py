"""The local Neo4j: Community 5.26 LTS from Maven Central, run on Java 17 as a background process.

State folder layout (``fcgraph.paths.state_dir``, default ``~/.local/share/fcgraph``)::

    neo4j/
      lib/                 the server's jars (mvn dependency:copy-dependencies), .complete stamp
      browser/             fcgraph-browser.jar: Neo4j Browser + fcgraph's style and guide
      home/conf/neo4j.conf written from the options at every start
      home/data/           databases and transaction logs (what `stop` preserves)
      home/logs/           neo4j.log, debug.log, query.log, console.log
      credentials.env      NEO4J_URI / NEO4J_USER / NEO4J_PASSWORD, mode 0600
      server.json          pid, ports, version of the running server
      pom.xml              the Maven project that resolves lib/

Neo4j Browser (``org.neo4j.client:neo4j-browser``) is among the jars: the server serves it at
``http://127.0.0.1:<http-port>/browser/``, and ``browser.post_connect_cmd`` applies fcgraph's
style and opens its guide after connecting (see :mod:`fcgraph.viz.browser`).

Authentication is on: the first ``start`` generates a password and sets it with
``neo4j-admin dbms set-initial-password`` through a Java argument file (mode 0600, deleted
afterwards), so the password never appears in a process listing, output or log.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import neo4j
from neo4j.exceptions import AuthError, ServiceUnavailable

from fcgraph.errors import FcgraphError
from fcgraph.graph.connection import Connection, credentials_file, read_credentials
from fcgraph.io import atomic_write_text
from fcgraph.paths import RESOURCES_DIR
from fcgraph.viz.browser import browser_settings, build_overlay

NEO4J_VERSION = "5.26.28"
NEO4J_BROWSER_VERSION = "5.24.0"  # the newest org.neo4j.client:neo4j-browser on Maven Central
INSTALL_STAMP = f"{NEO4J_VERSION} browser {NEO4J_BROWSER_VERSION}"
NEO4J_USER = "neo4j"
DOCKER_HINT = "or run `docker compose up` and set NEO4J_URI / NEO4J_PASSWORD"
JVM_OPTIONS = [
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+AlwaysPreTouch",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Djdk.tls.ephemeralDHKeySize=2048",
    "-Dfile.encoding=UTF-8",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
]


@dataclass(frozen=True)
class ServerLayout:
    """Paths of one local server inside a state folder."""

    root: Path

    @property
    def lib(self) -> Path:
        return self.root / "lib"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def conf(self) -> Path:
        return self.home / "conf"

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def browser(self) -> Path:
        return self.root / "browser"

    @property
    def info_file(self) -> Path:
        return self.root / "server.json"

    @property
    def credentials(self) -> Path:
        return credentials_file(self.root.parent)

    @classmethod
    def of(cls, state: Path) -> ServerLayout:
        return cls(state / "neo4j")


@dataclass(frozen=True)
class ServerStatus:
    """What ``fcgraph db status`` reports. Counts are None when the server is not running."""

    running: bool
    uri: str
    http_url: str | None
    pid: int | None
    version: str | None
    data_dir: Path
    log_dir: Path
    nodes: int | None = None
    relationships: int | None = None
    browser_url: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "running": self.running,
            "uri": self.uri,
            "http": self.http_url,
            "browser": self.browser_url,
            "pid": self.pid,
            "version": self.version,
            "data": str(self.data_dir),
            "logs": str(self.log_dir),
            "nodes": self.nodes,
            "relationships": self.relationships,
        }


def java_executable() -> str:
    """The ``java`` to run Neo4j with (``JAVA_HOME`` first), checked to be 17 or 21."""
    java_home = os.environ.get("JAVA_HOME")
    candidate = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not candidate or not Path(candidate).exists():
        raise FcgraphError(f"Java 17 is needed to run the local Neo4j and was not found; {DOCKER_HINT}")
    out = subprocess.run([candidate, "-version"], capture_output=True, text=True).stderr
    match = re.search(r'version "(\d+)', out)
    major = int(match.group(1)) if match else 0
    if major not in (17, 21):
        raise FcgraphError(
            f"Neo4j 5.26 runs on Java 17 or 21, but {candidate} is Java {major or '?'}; "
            f"set JAVA_HOME to a Java 17, {DOCKER_HINT}"
        )
    return candidate


def install(state: Path, *, quiet: bool = True) -> Path:
    """Resolve the server's jars from Maven Central into ``neo4j/lib`` (once); return lib/."""
    layout = ServerLayout.of(state)
    stamp = layout.lib / ".complete"
    if stamp.exists() and stamp.read_text().strip() == INSTALL_STAMP:
        return layout.lib
    if stamp.exists() and _server_pid(layout):  # never swap the jars under a running server:
        return layout.lib                        # the next start after a stop upgrades them
    mvn = shutil.which("mvn")
    if mvn is None:
        raise FcgraphError(f"Maven (mvn) is needed to fetch Neo4j from Maven Central; {DOCKER_HINT}")
    layout.root.mkdir(parents=True, exist_ok=True)
    pom = ((RESOURCES_DIR / "neo4j-pom.xml").read_text().replace("@NEO4J_VERSION@", NEO4J_VERSION)
           .replace("@NEO4J_BROWSER_VERSION@", NEO4J_BROWSER_VERSION))
    atomic_write_text(layout.root / "pom.xml", pom)
    staging = layout.root / "lib.partial"
    shutil.rmtree(staging, ignore_errors=True)
    cmd = [mvn, "-B", "-f", str(layout.root / "pom.xml"), "dependency:copy-dependencies",
           f"-DoutputDirectory={staging}", "-DincludeScope=runtime"]
    if quiet:
        cmd.insert(2, "-q")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["no output"]
        raise FcgraphError(f"mvn could not fetch Neo4j {NEO4J_VERSION}: {tail[0]}")
    shutil.rmtree(layout.lib, ignore_errors=True)
    staging.rename(layout.lib)
    (layout.lib / ".complete").write_text(INSTALL_STAMP)
    return layout.lib


def _write_config(layout: ServerLayout, bolt_port: int, http_port: int, pagecache: str) -> None:
    for folder in (layout.conf, layout.data, layout.logs, layout.home / "import",
                   layout.home / "plugins", layout.home / "run"):
        folder.mkdir(parents=True, exist_ok=True)
    conf = f"""# written by `fcgraph db start`; edits are overwritten at the next start
server.default_listen_address=127.0.0.1
server.default_advertised_address=127.0.0.1
server.bolt.enabled=true
server.bolt.tls_level=DISABLED
server.bolt.listen_address=127.0.0.1:{bolt_port}
server.bolt.advertised_address=127.0.0.1:{bolt_port}
server.http.enabled=true
server.http.listen_address=127.0.0.1:{http_port}
server.http.advertised_address=127.0.0.1:{http_port}
server.https.enabled=false
dbms.security.auth_enabled=true
dbms.security.auth_minimum_password_length=8
server.memory.pagecache.size={pagecache}
db.tx_log.rotation.retention_policy=2 files
server.directories.import=import
dbms.usage_report.enabled=false
"""
    conf += browser_settings(http_port)
    atomic_write_text(layout.conf / "neo4j.conf", conf)


def _java_env(layout: ServerLayout) -> dict[str, str]:
    env = dict(os.environ)
    env["NEO4J_HOME"] = str(layout.home)
    env["NEO4J_CONF"] = str(layout.conf)
    return env


def _set_initial_password(layout: ServerLayout, java: str, password: str) -> None:
    """neo4j-admin dbms set-initial-password, the password passed in a 0600 argument file."""
    argfile = layout.root / "initial-password.args"
    fd = os.open(argfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(f"org.neo4j.cli.AdminTool dbms set-initial-password {password}\n")
        proc = subprocess.run(
            [java, "-cp", f"{layout.lib}/*", f"@{argfile}"],
            env=_java_env(layout), capture_output=True, text=True, timeout=300,
        )
    finally:
        argfile.unlink(missing_ok=True)
    if proc.returncode != 0:
        lines = (proc.stdout + proc.stderr).replace(password, "***").strip().splitlines()
        reason = next((ln for ln in lines if "Exception" in ln or "rror" in ln), lines[-1:] or "?")
        raise FcgraphError(f"setting the initial Neo4j password failed: {str(reason).strip()}")


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child counts as gone
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


def _server_pid(layout: ServerLayout) -> int | None:
    """The pid in server.json when that process is alive and is this folder's Neo4j.

    A pid reused by an unrelated process after a reboot or crash does not count.
    """
    pid = _read_info(layout).get("pid")
    if not isinstance(pid, int) or not _pid_alive(pid):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return pid  # no /proc: trust the pid
    return pid if f"--home-dir={layout.home}" in cmdline else None


def _read_info(layout: ServerLayout) -> dict[str, object]:
    try:
        return json.loads(layout.info_file.read_text())
    except (OSError, ValueError):
        return {}


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def local_connection(state: Path) -> Connection:
    """The connection to the local server, from its credentials file."""
    creds = read_credentials(ServerLayout.of(state).credentials)
    if not creds:
        raise FcgraphError(f"no local Neo4j has been started in {state} (run `fcgraph db start`)")
    return Connection(uri=creds["NEO4J_URI"], user=creds["NEO4J_USER"],
                      password=creds["NEO4J_PASSWORD"])


def _bolt_ready(conn: Connection) -> bool:
    try:
        with neo4j.GraphDatabase.driver(conn.uri, auth=(conn.user, conn.password),
                                        connection_timeout=2, notifications_min_severity="OFF") as driver:
            driver.verify_connectivity()
        return True
    except (ServiceUnavailable, OSError):
        return False
    except AuthError:
        raise FcgraphError(f"Neo4j at {conn.uri} refused the stored password") from None


def _last_log_line(layout: ServerLayout) -> str:
    for name in ("console.log", "neo4j.log"):
        path = layout.logs / name
        if path.exists():
            lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
            errors = [ln for ln in lines if "ERROR" in ln or "Exception" in ln]
            if errors or lines:
                return (errors or lines)[-1][:300]
    return "no log output"


def start(
    state: Path,
    *,
    bolt_port: int = 7687,
    http_port: int = 7474,
    heap: str = "1g",
    pagecache: str = "512m",
    timeout: float = 180.0,
) -> ServerStatus:
    """Start the local Neo4j in the background and wait until Bolt answers.

    Idempotent: when the server of this state folder already runs, its status is returned.
    Raises :class:`FcgraphError` on a missing Java / Maven, a busy port, or a start that fails
    or exceeds ``timeout`` seconds.
    """
    layout = ServerLayout.of(state)
    info = _read_info(layout)
    if _server_pid(layout):
        conn = local_connection(state)
        deadline = time.monotonic() + timeout
        while not _bolt_ready(conn):
            if time.monotonic() > deadline:
                raise FcgraphError(f"Neo4j (pid {info['pid']}) runs but Bolt does not answer")
            time.sleep(1)
        return status(state)
    java = java_executable()
    install(state)
    for port in (bolt_port, http_port):
        if _port_in_use(port):
            raise FcgraphError(f"port {port} on 127.0.0.1 is in use; choose another with "
                               "--bolt-port / --http-port")
    _write_config(layout, bolt_port, http_port, pagecache)
    uri = f"bolt://127.0.0.1:{bolt_port}"
    creds = read_credentials(layout.credentials)
    if not (layout.data / "databases" / "system").exists():  # first start: set the password
        password = creds.get("NEO4J_PASSWORD") or secrets.token_urlsafe(24)
        _set_initial_password(layout, java, password)
        creds = {"NEO4J_USER": NEO4J_USER, "NEO4J_PASSWORD": password}
    elif not creds.get("NEO4J_PASSWORD"):
        raise FcgraphError(f"{layout.data} holds a Neo4j whose password is not in "
                           f"{layout.credentials}; restore that file or remove {layout.home}")
    creds["NEO4J_URI"] = uri
    _write_credentials(layout.credentials, creds)
    overlay = build_overlay(layout.lib, layout.browser, f"http://127.0.0.1:{http_port}")
    classpath = f"{overlay}:{layout.lib}/*" if overlay else f"{layout.lib}/*"  # overlay first
    cmd = [java, f"-Xms{heap}", f"-Xmx{heap}", *JVM_OPTIONS, "-cp", classpath,
           "org.neo4j.server.CommunityEntryPoint",
           f"--home-dir={layout.home}", f"--config-dir={layout.conf}"]
    with open(layout.logs / "console.log", "ab") as console:
        proc = subprocess.Popen(cmd, cwd=layout.home, env=_java_env(layout), stdin=subprocess.DEVNULL,
                                stdout=console, stderr=subprocess.STDOUT, start_new_session=True)
    atomic_write_text(layout.info_file, json.dumps({
        "pid": proc.pid, "bolt_port": bolt_port, "http_port": http_port,
        "version": NEO4J_VERSION, "started": time.time(), "browser": overlay is not None,
    }))
    conn = local_connection(state)
    deadline = time.monotonic() + timeout
    while not _bolt_ready(conn):
        if proc.poll() is not None:
            raise FcgraphError(f"Neo4j exited during start (code {proc.returncode}): "
                               f"{_last_log_line(layout)}; logs in {layout.logs}")
        if time.monotonic() > deadline:
            _terminate(proc.pid, 30)
            raise FcgraphError(f"Neo4j did not answer on {uri} within {timeout:.0f} s; "
                               f"logs in {layout.logs}")
        time.sleep(0.5)
    return status(state)


def _write_credentials(path: Path, creds: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(f"{key}={creds[key]}\n" for key in ("NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD"))
    atomic_write_text(path, text, mode=0o600)


def _terminate(pid: int, timeout: float) -> bool:
    """SIGTERM (Neo4j's clean shutdown), then wait; SIGKILL only after ``timeout``."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return True
        _reap(pid)
        time.sleep(0.25)
    os.kill(pid, signal.SIGKILL)
    return False


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def stop(state: Path, *, timeout: float = 120.0) -> bool:
    """Shut the local server down cleanly; returns False when it was not running."""
    layout = ServerLayout.of(state)
    pid = _server_pid(layout)
    if pid is None:
        return False
    clean = _terminate(pid, timeout)
    if not clean:
        raise FcgraphError(f"Neo4j (pid {pid}) did not stop within {timeout:.0f} s and was killed; "
                           "its transaction log will be recovered at the next start")
    return True


def status(state: Path) -> ServerStatus:
    """Running or not, URI, PID, version, data folder and, when running, node/relationship counts."""
    layout = ServerLayout.of(state)
    info = _read_info(layout)
    pid = _server_pid(layout)
    running = pid is not None
    creds = read_credentials(layout.credentials)
    uri = creds.get("NEO4J_URI", f"bolt://127.0.0.1:{info.get('bolt_port', 7687)}")
    http = f"http://127.0.0.1:{info['http_port']}" if "http_port" in info else None
    browser = f"{http}/browser/" if http and info.get("browser") else None
    result = ServerStatus(running=running, uri=uri, http_url=http, browser_url=browser,
                          pid=pid,
                          version=str(info.get("version")) if info else None,
                          data_dir=layout.data, log_dir=layout.logs)
    if not running:
        return result
    conn = local_connection(state)
    try:
        with neo4j.GraphDatabase.driver(conn.uri, auth=(conn.user, conn.password),
                                        connection_timeout=5,
                                        notifications_min_severity="OFF") as driver:
            version = driver.execute_query(
                "CALL dbms.components() YIELD versions RETURN versions[0] AS v",
                routing_=neo4j.RoutingControl.READ, database_="system").records[0]["v"]
            counts = driver.execute_query(
                "CALL () { MATCH (n) RETURN count(n) AS nodes } "
                "CALL () { MATCH ()-[r]->() RETURN count(r) AS rels } RETURN nodes, rels",
                routing_=neo4j.RoutingControl.READ, database_="neo4j").records[0]
    except (ServiceUnavailable, OSError):
        return result
    return ServerStatus(running=True, uri=uri, http_url=http, pid=result.pid, version=version,
                        data_dir=layout.data, log_dir=layout.logs,
                        nodes=counts["nodes"], relationships=counts["rels"], browser_url=browser)


def admin_command(state: Path, *args: str, timeout: float = 3600) -> subprocess.CompletedProcess:
    """Run ``neo4j-admin ARGS`` (``org.neo4j.cli.AdminTool``) against the local server's home."""
    layout = ServerLayout.of(state)
    java = java_executable()
    install(state)
    _write_config(layout, *_ports(layout), pagecache="512m")
    return subprocess.run([java, "-Xmx2g", *JVM_OPTIONS, "-cp", f"{layout.lib}/*",
                           "org.neo4j.cli.AdminTool", *args],
                          env=_java_env(layout), capture_output=True, text=True, timeout=timeout)


def _ports(layout: ServerLayout) -> tuple[int, int]:
    info = _read_info(layout)
    return int(info.get("bolt_port", 7687)), int(info.get("http_port", 7474))  # type: ignore[arg-type]


def import_csv(state: Path, csv_dir: Path) -> str:
    """Run the ``import.args`` of an ``fcgraph export-csv`` folder with neo4j-admin (full import).

    The local server must be stopped. Returns neo4j-admin's summary line.
    """
    layout = ServerLayout.of(state)
    if _server_pid(layout):
        raise FcgraphError("stop the local Neo4j first (`fcgraph db stop`): a full import "
                           "replaces its database")
    args_file = Path(csv_dir) / "import.args"
    if not args_file.exists():
        raise FcgraphError(f"{args_file}: not found (write it with `fcgraph export-csv`)")
    args = [line for line in args_file.read_text().splitlines() if line.strip()]
    proc = admin_command(state, *args)
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    if proc.returncode != 0:
        reason = next((ln for ln in lines if "original error" in ln or "Caused by" in ln),
                      next((ln for ln in lines if "rror" in ln), lines[-1] if lines else "?"))
        raise FcgraphError(f"neo4j-admin import failed: {reason.strip()}")
    if "Imported:" in (proc.stdout + proc.stderr):
        start = max(i for i, ln in enumerate(lines) if ln.strip().endswith("Imported:"))
        counts = [ln.strip() for ln in lines[start + 1:start + 4] if ln.strip()]
        return "imported " + ", ".join(counts)
    return lines[-1] if lines else "done"
