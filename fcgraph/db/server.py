"""The local Neo4j: Community 5.26 LTS from Maven Central, run on Java 17 as a background process.

State folder layout (``fcgraph.paths.state_dir``, default ``~/.local/share/fcgraph``)::

    neo4j/
      lib/                 the server's jars (mvn dependency:copy-dependencies), .complete stamp
      browser/             fcgraph-browser.jar: Neo4j Browser + fcgraph's style and guide
      home/conf/neo4j.conf written from the options at every start
      home/data/           databases and transaction logs (what `stop` preserves)
      home/logs/           neo4j.log, debug.log, query.log, console.log
      home/tmp/            the server's temp files (Jetty's), kept out of /tmp
      credentials.env      NEO4J_URI / NEO4J_USER / NEO4J_PASSWORD, mode 0600
      server.json          pid, ports, version of the running server
      pom.xml              the Maven project that resolves lib/

Neo4j Browser (``org.neo4j.client:neo4j-browser``) is among the jars: the server serves it at
``http://127.0.0.1:<http-port>/browser/``, and ``browser.post_connect_cmd`` applies fcgraph's
style and opens its guide after connecting (see :mod:`fcgraph.viz.browser`).

Authentication is on: the first ``start`` sets the password (generated from letters and
digits, or the user's own) with ``neo4j-admin dbms set-initial-password`` through a Java
argument file (mode 0600, deleted afterwards), so it never appears in a process listing,
output or log. ``start`` and ``stop`` hold ``neo4j/lifecycle.lock`` so that two of them at once
never launch two servers on one folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
import signal
import socket
import string
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import neo4j
from neo4j.exceptions import AuthError, ServiceUnavailable

from fcgraph import faults
from fcgraph.errors import BadArgument, FcgraphError
from fcgraph.graph.connection import Connection, credentials_file, read_credentials, write_credentials
from fcgraph.io import atomic_write_text, pid_alive
from fcgraph.paths import RESOURCES_DIR
from fcgraph.tool_errors import telling_line, tool_failure
from fcgraph.viz.browser import browser_settings, build_overlay

NEO4J_VERSION = "5.26.28"
NEO4J_BROWSER_VERSION = "5.24.0"  # the newest org.neo4j.client:neo4j-browser on Maven Central
INSTALL_STAMP = f"{NEO4J_VERSION} browser {NEO4J_BROWSER_VERSION}"
NEO4J_USER = "neo4j"
MIN_PASSWORD_LENGTH = 8  # dbms.security.auth_minimum_password_length in the written neo4j.conf
# generated passwords: letters and digits only, so no command line, argument file, URI, shell or
# .env reader can take them for an option, a quote, a comment or a separator
PASSWORD_ALPHABET = string.ascii_letters + string.digits
GENERATED_PASSWORD_LENGTH = 32
DEFAULT_PORTS = (7687, 7474)  # Bolt, HTTP: Neo4j's own
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


_GIB = 1 << 30


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

    @property
    def lock_file(self) -> Path:
        return self.root / "lifecycle.lock"

    @property
    def admin_log(self) -> Path:
        """The output of the last neo4j-admin command that failed (secrets masked)."""
        return self.logs / "neo4j-admin.log"

    @property
    def install_log(self) -> Path:
        """The output of the last Maven run that failed."""
        return self.root / "mvn-install.log"

    @classmethod
    def of(cls, state: Path) -> ServerLayout:
        return cls(Path(state).absolute() / "neo4j")  # Neo4j runs with another working folder


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
    if java_home and not Path(candidate).exists():
        raise FcgraphError(f"JAVA_HOME is {java_home}, which has no bin/java; point it at a Java 17 "
                           f"(or unset it to use the java on PATH), {DOCKER_HINT}")
    if not candidate or not Path(candidate).exists():
        raise FcgraphError(f"Java 17 is needed to run the local Neo4j and was not found; {DOCKER_HINT}")
    try:
        proc = subprocess.run([candidate, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FcgraphError(f"{candidate} -version did not run ({exc.__class__.__name__}); "
                           f"set JAVA_HOME to a Java 17, {DOCKER_HINT}") from None
    out = proc.stderr + proc.stdout
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    major = int(match.group(1)) if match else 0
    if major == 1 and match and match.group(2):  # "1.8.0_381" is Java 8
        major = int(match.group(2))
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
        raise tool_failure(f"fetching Neo4j {NEO4J_VERSION} from Maven Central with mvn",
                           proc.stdout + proc.stderr, log=layout.install_log,
                           advice="check that Maven reaches Maven Central (proxy settings in "
                                  "~/.m2/settings.xml), then run `fcgraph db install` again")
    shutil.rmtree(layout.lib, ignore_errors=True)
    staging.rename(layout.lib)
    (layout.lib / ".complete").write_text(INSTALL_STAMP)
    return layout.lib


def _write_config(layout: ServerLayout, bolt_port: int, http_port: int, pagecache: str) -> None:
    for folder in (layout.conf, layout.data, layout.logs, layout.home / "import",
                   layout.home / "plugins", layout.home / "run", layout.home / "tmp"):
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
# transaction logs grow as written (Neo4j fills each 256 MB file up front): a store with a few
# small runs stays small
db.tx_log.preallocate=false
server.directories.import=import
dbms.usage_report.enabled=false
# no idle wait when Bolt stops (5 s by default): the stores are checkpointed and closed by then
internal.dbms.bolt.netty_server_shutdown_quiet_period=0
"""
    conf += browser_settings(http_port)
    atomic_write_text(layout.conf / "neo4j.conf", conf)


def _java_env(layout: ServerLayout) -> dict[str, str]:
    env = dict(os.environ)
    env["NEO4J_HOME"] = str(layout.home)
    env["NEO4J_CONF"] = str(layout.conf)
    return env


def generate_password() -> str:
    """A new password: 32 letters and digits (about 190 bits), safe for every tool it reaches."""
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(GENERATED_PASSWORD_LENGTH))


def check_password(password: str, flag: str = "--initial-password") -> str:
    """A password the user chose, refused (:class:`BadArgument`) when Neo4j or a line-based
    credentials file cannot hold it: shorter than 8 characters, or with control characters."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadArgument(flag, f"a Neo4j password needs at least {MIN_PASSWORD_LENGTH} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in password):
        raise BadArgument(flag, "the password has a control character (a line break or tab)")
    return password


def _java_argfile_quote(arg: str) -> str:
    """``arg`` as one token of a Java ``@argfile`` (double quotes; backslash and quote escaped)."""
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _set_initial_password(layout: ServerLayout, java: str, password: str) -> None:
    """neo4j-admin dbms set-initial-password, the password passed in a 0600 argument file,
    quoted and after ``--`` so that no character of it is read as an option or a separator."""
    argfile = layout.root / "initial-password.args"
    fd = os.open(argfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("org.neo4j.cli.AdminTool dbms set-initial-password -- "
                     f"{_java_argfile_quote(password)}\n")
        proc = subprocess.run(
            [java, "-Dfile.encoding=UTF-8", "-cp", f"{layout.lib}/*", f"@{argfile}"],
            env=_java_env(layout), capture_output=True, text=True, timeout=300,
        )
    finally:
        argfile.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise tool_failure("setting the initial Neo4j password with neo4j-admin",
                           proc.stdout + proc.stderr, log=layout.admin_log, secrets=[password],
                           advice=f"fix the cause and run `fcgraph db start` again (nothing was "
                                  f"started; {layout.home} holds no database yet)")


def _server_pid(layout: ServerLayout) -> int | None:
    """The pid in server.json when that process is alive and is this folder's Neo4j.

    A pid reused by an unrelated process after a reboot or crash does not count.
    """
    pid = _read_info(layout).get("pid")
    if not isinstance(pid, int) or not pid_alive(pid):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return pid  # no /proc: trust the pid
    return pid if f"--home-dir={layout.home}" in cmdline else None


def _running_pid(layout: ServerLayout) -> int | None:
    """This folder's running Neo4j: the one server.json names, else one found in /proc."""
    return _server_pid(layout) or _adopt_running_server(layout)


def _read_info(layout: ServerLayout) -> dict[str, object]:
    try:
        return json.loads(layout.info_file.read_text())
    except (OSError, ValueError):
        return {}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a second server, in tests and
    benchmarks)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


def _server_processes(layout: ServerLayout) -> list[int]:
    """Pids of the live Neo4j processes whose home is this folder's, found in /proc: a server
    whose server.json was lost (a crashed or killed ``fcgraph``) is still found."""
    marker = f"--home-dir={layout.home}".encode()
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker in cmdline.split(b"\0") and b"org.neo4j.server.CommunityEntryPoint" in cmdline:
            pid = int(entry.name)
            if pid_alive(pid):
                pids.append(pid)
    return pids


def _configured_ports(layout: ServerLayout) -> tuple[int, int] | None:
    """The Bolt and HTTP ports of the neo4j.conf that the running server was started with."""
    try:
        conf = (layout.conf / "neo4j.conf").read_text()
    except OSError:
        return None
    ports = [re.search(rf"^server\.{kind}\.listen_address=.*:(\d+)$", conf, re.M)
             for kind in ("bolt", "http")]
    return (int(ports[0].group(1)), int(ports[1].group(1))) if all(ports) else None


def _adopt_running_server(layout: ServerLayout) -> int | None:
    """When this folder's Neo4j runs but server.json does not name it (stale, missing), write
    server.json for it again and return its pid; None when no such server runs."""
    pids = _server_processes(layout)
    ports = _configured_ports(layout)
    if not pids or ports is None:
        return None
    atomic_write_text(layout.info_file, json.dumps({
        "pid": pids[0], "bolt_port": ports[0], "http_port": ports[1], "version": NEO4J_VERSION,
        "started": None, "browser": (layout.browser / "fcgraph-browser.jar").exists(),
    }))
    return pids[0]


@contextlib.contextmanager
def _lifecycle_lock(layout: ServerLayout):
    """Hold ``neo4j/lifecycle.lock`` (an OS lock, released when the process dies, even by
    SIGKILL): a second ``start`` or ``stop`` waits for the first to finish."""
    layout.root.mkdir(parents=True, exist_ok=True)
    with open(layout.lock_file, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _start_failure(layout: ServerLayout, console_offset: int) -> str:
    """The telling line of what this start wrote to console.log (earlier starts left out)."""
    try:
        with open(layout.logs / "console.log", "rb") as fh:
            fh.seek(console_offset)
            text = fh.read(1 << 20).decode(errors="replace")
    except OSError:
        text = ""
    return telling_line(text)


def _wait_for_bolt(conn: Connection, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not _bolt_ready(conn):
        if time.monotonic() > deadline:
            raise FcgraphError(f"{what} runs but Bolt does not answer on {conn.uri} within "
                               f"{timeout:.0f} s; `fcgraph db stop` and start it again")
        time.sleep(0.2)


def memory_for_store(store_bytes: int, ram_bytes: int | None = None) -> tuple[str, str]:
    """Neo4j heap and page cache for a store of ``store_bytes``: the page cache holds the whole
    store plus 20 % (at least 512 MiB) up to 40 % of the machine's memory; the heap is 1 GiB,
    2 GiB from a 4 GiB store on (queries over millions of edges aggregate in the heap)."""
    ram = ram_bytes or os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    cache = int(min(max(512 << 20, store_bytes * 1.2), 0.4 * ram))
    heap = 2 * _GIB if store_bytes >= 4 * _GIB else _GIB
    return f"{heap >> 20}m", f"{cache >> 20}m"


def folder_bytes(path: Path) -> int:
    """Total size in bytes of the files under ``path`` (0 when it does not exist)."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def start(
    state: Path,
    *,
    bolt_port: int | None = None,
    http_port: int | None = None,
    heap: str | None = None,
    pagecache: str | None = None,
    timeout: float = 180.0,
    initial_password: str | None = None,
) -> ServerStatus:
    """Start the local Neo4j in the background and wait until Bolt answers.

    Idempotent and safe to call twice at once: when the server of this state folder already
    runs (even one that a crashed ``fcgraph`` left without its server.json), its status is
    returned. ``initial_password`` is the password the first start sets (default: generated,
    32 letters and digits); it is refused (:class:`BadArgument`) for a database that already
    has another one. Ports left as None are those of the folder's last start (after a crash or
    a reboot, the server comes back where its users look for it), else 7687 and 7474. ``heap``
    and ``pagecache`` left as None are sized for the store the server opens
    (:func:`memory_for_store`).

    Raises :class:`FcgraphError` on a missing or wrong Java, no Maven, a busy port, or a start
    that fails or exceeds ``timeout`` seconds.
    """
    layout = ServerLayout.of(state)
    if initial_password is not None:
        check_password(initial_password)
    with _lifecycle_lock(layout):
        pid = _running_pid(layout)
        if pid:
            _check_initial_password(layout, initial_password)
            _wait_for_bolt(local_connection(state), timeout, f"Neo4j (pid {pid})")
            return status(state)
        _restore_previous(layout)  # a bulk load killed while swapping stores: the previous one
        java = java_executable()
        install(state)
        last = _configured_ports(layout) or DEFAULT_PORTS
        bolt_port = bolt_port or last[0]
        http_port = http_port or last[1]
        for port in (bolt_port, http_port):
            if _port_in_use(port):
                raise FcgraphError(f"port {port} on 127.0.0.1 is in use; choose another with "
                                   "--bolt-port / --http-port")
        sized = memory_for_store(folder_bytes(layout.data / "databases"))
        heap, pagecache = heap or sized[0], pagecache or sized[1]
        _write_config(layout, bolt_port, http_port, pagecache)
        uri = f"bolt://127.0.0.1:{bolt_port}"
        creds = read_credentials(layout.credentials)
        if not (layout.data / "databases" / "system").exists():  # first start: set the password
            password = initial_password or creds.get("NEO4J_PASSWORD") or generate_password()
            # the credentials first: a start killed after setting the password finds it again
            write_credentials(layout.credentials, uri, NEO4J_USER, password)
            _set_initial_password(layout, java, password)
        else:
            if not creds.get("NEO4J_PASSWORD"):
                raise FcgraphError(f"{layout.data} holds a Neo4j whose password is not in "
                                   f"{layout.credentials}; restore that file or remove {layout.home}")
            _check_initial_password(layout, initial_password)
            write_credentials(layout.credentials, uri, creds.get("NEO4J_USER", NEO4J_USER),
                              creds["NEO4J_PASSWORD"])
        overlay = build_overlay(layout.lib, layout.browser, f"http://127.0.0.1:{http_port}")
        classpath = f"{overlay}:{layout.lib}/*" if overlay else f"{layout.lib}/*"  # overlay first
        # the server's temp files (Jetty's jetty-* folders) in its home, not in /tmp
        cmd = [java, f"-Xms{heap}", f"-Xmx{heap}", f"-Djava.io.tmpdir={layout.home / 'tmp'}",
               *JVM_OPTIONS, "-cp", classpath,
               "org.neo4j.server.CommunityEntryPoint",
               f"--home-dir={layout.home}", f"--config-dir={layout.conf}"]
        with open(layout.logs / "console.log", "ab") as console:
            console_offset = console.tell()
            proc = subprocess.Popen(cmd, cwd=layout.home, env=_java_env(layout),
                                    stdin=subprocess.DEVNULL, stdout=console,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        atomic_write_text(layout.info_file, json.dumps({
            "pid": proc.pid, "bolt_port": bolt_port, "http_port": http_port,
            "version": NEO4J_VERSION, "started": time.time(), "browser": overlay is not None,
        }))
        conn = local_connection(state)
        deadline = time.monotonic() + timeout
        while not _bolt_ready(conn):
            if proc.poll() is not None:
                raise FcgraphError(
                    f'Neo4j exited during start (code {proc.returncode}): '
                    f'"{_start_failure(layout, console_offset)}"; see {layout.logs / "console.log"} '
                    f'and neo4j.log there, fix the cause and run `fcgraph db start` again')
            if time.monotonic() > deadline:
                _terminate(proc.pid, 30)
                raise FcgraphError(f"Neo4j did not answer on {uri} within {timeout:.0f} s and was "
                                   f"stopped; logs in {layout.logs}")
            time.sleep(0.5)
    return status(state)


def _check_initial_password(layout: ServerLayout, initial_password: str | None) -> None:
    stored = read_credentials(layout.credentials).get("NEO4J_PASSWORD")
    if initial_password is not None and initial_password != stored:
        raise BadArgument("--initial-password", f"{layout.data} already holds a database with "
                          f"another password (in {layout.credentials}); it is set only when the "
                          "database is created")


def _terminate(pid: int, timeout: float) -> bool:
    """SIGTERM (Neo4j's clean shutdown), then wait; SIGKILL only after ``timeout``."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
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
    with _lifecycle_lock(layout):
        pid = _running_pid(layout)
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
    pid = _running_pid(layout)
    info = _read_info(layout)
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


def admin_command(state: Path, *args: str, timeout: float = 3600,
                  home: ServerLayout | None = None) -> subprocess.CompletedProcess:
    """Run ``neo4j-admin ARGS`` (``org.neo4j.cli.AdminTool``) against the local server's home,
    or against ``home`` (e.g. :func:`staging_layout`) with the server's jars."""
    layout = ServerLayout.of(state)
    target = home or layout
    java = java_executable()
    install(state)
    _write_config(target, *_ports(layout), pagecache="512m")
    return subprocess.run([java, "-Xmx2g", *JVM_OPTIONS, "-cp", f"{layout.lib}/*",
                           "org.neo4j.cli.AdminTool", *args],
                          env=_java_env(target), capture_output=True, text=True, timeout=timeout)


def _ports(layout: ServerLayout) -> tuple[int, int]:
    info = _read_info(layout)
    return int(info.get("bolt_port", 7687)), int(info.get("http_port", 7474))  # type: ignore[arg-type]


def import_csv(state: Path, csv_dir: Path) -> str:
    """Run the ``import.args`` of an ``fcgraph export-csv`` folder with neo4j-admin (full import).

    The local server must be stopped. Returns neo4j-admin's summary line.
    """
    layout = ServerLayout.of(state)
    args_file = Path(csv_dir) / "import.args"
    if not args_file.exists():
        raise FcgraphError(f"{args_file}: not found (write it with `fcgraph export-csv`)")
    args = [line for line in args_file.read_text().splitlines() if line.strip()]
    with _lifecycle_lock(layout):  # no start while the store is being replaced
        if _running_pid(layout):
            raise FcgraphError("stop the local Neo4j first (`fcgraph db stop`): a full import "
                               "replaces its database")
        return _run_import(state, args, csv_dir, None)


def _run_import(state: Path, args: list[str], csv_dir: Path, home: ServerLayout | None) -> str:
    layout = ServerLayout.of(state)
    proc = admin_command(state, *args, home=home)
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    if proc.returncode != 0:
        raise tool_failure("neo4j-admin database import", proc.stdout + proc.stderr,
                           log=layout.admin_log,
                           advice=f"check the files in {csv_dir} (`fcgraph export-csv` writes them) "
                                  "and the free disk space, then run the import again")
    if "Imported:" in (proc.stdout + proc.stderr):
        start = max(i for i, ln in enumerate(lines) if ln.strip().endswith("Imported:"))
        counts = [ln.strip() for ln in lines[start + 1:start + 4] if ln.strip()]
        return "imported " + ", ".join(counts)
    return lines[-1] if lines else "done"


# -- a store built beside the live one, then swapped in ------------------------------------------

#: The folders of the ``neo4j`` database's store inside a home's data folder.
_STORE_DIRS = ("databases", "transactions")


def staging_layout(state: Path) -> ServerLayout:
    """A second Neo4j home beside the live one (``neo4j/rebuild``), where a new store is
    imported while the live server keeps serving."""
    return ServerLayout(ServerLayout.of(state).root / "rebuild")


def import_staged(state: Path, args: list[str], csv_dir: Path) -> str:
    """Import ``args`` (``database import full neo4j ...``) into a fresh staging home; the live
    server may run meanwhile. Returns neo4j-admin's summary line."""
    staged = staging_layout(state)
    discard_staged(state)
    return _run_import(state, args, csv_dir, staged)


def discard_staged(state: Path) -> None:
    """Remove a staging home left by an earlier build (never one being swapped in)."""
    staged = staging_layout(state)
    with _lifecycle_lock(ServerLayout.of(state)):
        if not (staged.root / "swap.json").exists():
            shutil.rmtree(staged.root, ignore_errors=True)


def swap_in_staged(state: Path) -> None:
    """Put the staged ``neo4j`` store in place of the live one (the server must be stopped).

    The live store moves to ``rebuild/previous``, under a journal (``rebuild/swap.json``), so
    that :func:`finish_swap` can keep either, and a process killed in between leaves a state
    that the next start puts back to the previous store (:func:`_restore_previous`).
    """
    layout, staged = ServerLayout.of(state), staging_layout(state)
    with _lifecycle_lock(layout):
        if _running_pid(layout):
            raise FcgraphError("stop the local Neo4j first: its store is being replaced")
        journal = staged.root / "swap.json"
        had = {kind: (layout.data / kind / "neo4j").exists() for kind in _STORE_DIRS}
        atomic_write_text(journal, json.dumps({"phase": "swapping", "had": had,
                                               "pid": os.getpid()}))
        for kind in _STORE_DIRS:
            live, new = layout.data / kind / "neo4j", staged.data / kind / "neo4j"
            old = staged.root / "previous" / kind
            old.parent.mkdir(parents=True, exist_ok=True)
            if live.exists() and not old.exists():
                os.replace(live, old)
            faults.checkpoint("bulk.swapping")
            live.parent.mkdir(parents=True, exist_ok=True)
            os.replace(new, live)
        atomic_write_text(journal, json.dumps({"phase": "swapped", "had": had,
                                               "pid": os.getpid()}))


def finish_swap(state: Path, *, keep_new: bool) -> None:
    """After :func:`swap_in_staged`: keep the new store (drop the previous one), or put the
    previous one back (the server must then be stopped)."""
    layout, staged = ServerLayout.of(state), staging_layout(state)
    with _lifecycle_lock(layout):
        if keep_new:
            (staged.root / "swap.json").unlink(missing_ok=True)
            shutil.rmtree(staged.root, ignore_errors=True)
        else:
            if _running_pid(layout):
                raise FcgraphError("stop the local Neo4j first: its store is being restored")
            _restore_previous(layout, force=True)


def unfinished_swap(state: Path) -> bool:
    """Whether a bulk load died after swapping stores and before finishing (its journal is
    left, its process gone): a stop and a start put the previous store back."""
    journal = staging_layout(state).root / "swap.json"
    try:
        return not pid_alive(json.loads(journal.read_text() or "{}").get("pid"))
    except FileNotFoundError:
        return False


def _restore_previous(layout: ServerLayout, *, force: bool = False) -> None:
    """Undo the swap of a bulk load that died before finishing it (the journal exists, its
    process is gone; ``force``: whatever the process): the previous store goes back in place.
    Called with the lifecycle lock held and the server stopped (every start calls it)."""
    staged = ServerLayout(layout.root / "rebuild")
    journal = staged.root / "swap.json"
    if not journal.exists():
        return
    entry = json.loads(journal.read_text() or "{}")
    if not force and pid_alive(entry.get("pid")):
        return  # the bulk load that swapped is alive: it starts the server to check the store
    had = entry.get("had", {})
    for kind in _STORE_DIRS:
        live, old = layout.data / kind / "neo4j", staged.root / "previous" / kind
        if old.exists():
            shutil.rmtree(live, ignore_errors=True)
            os.replace(old, live)
        elif not had.get(kind, True):  # there was no store: the unchecked new one goes
            shutil.rmtree(live, ignore_errors=True)
    journal.unlink()
    shutil.rmtree(staged.root, ignore_errors=True)
