"""The tests' S3-compatible server: S3Proxy (Java, Apache-2.0) on 127.0.0.1, storing its objects in
a temporary folder, for the ``s3_store`` fixture (tests/conftest.py); and the handle that fixture
yields (:class:`S3Store`)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import s3fs

#: S3Proxy's jars and their stamp; scripts/setup.sh fetches them here (tests/services/s3proxy/pom.xml)
S3PROXY_LIB = Path(__file__).resolve().parents[2] / ".test-services" / "s3proxy" / "lib"
S3PROXY_COMPLETE = S3PROXY_LIB / ".complete"
#: the bucket the fixture creates
BUCKET = "fcgraph-test"
#: seconds S3Proxy gets to answer a list-buckets call after it starts
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class S3Store:
    """The running S3 server; the AWS_* environment points every client (and every subprocess
    started meanwhile) at it, so ``fsspec.core.url_to_fs(url)`` needs no other argument."""

    bucket: str
    endpoint: str  #: http://127.0.0.1:PORT

    def url(self, name: str) -> str:
        """A fresh prefix of the bucket, ``s3://fcgraph-test/<name>-<8 hex>``, unique to the call."""
        return f"s3://{self.bucket}/{name}-{uuid.uuid4().hex[:8]}"

    def fs(self) -> s3fs.S3FileSystem:
        """A new s3fs file system (no instance or listings cache) configured by the environment."""
        import s3fs

        return s3fs.S3FileSystem(use_listings_cache=False, skip_instance_cache=True)


def missing_reason() -> str | None:
    """Why S3Proxy cannot run here (no java, no jars, no s3fs), or None."""
    if shutil.which("java") is None:
        return "no java on PATH (S3Proxy, the tests' S3 server, runs on Java 17)"
    if not S3PROXY_COMPLETE.is_file():
        return f"S3Proxy's jars are not in {S3PROXY_LIB} (scripts/setup.sh fetches them with mvn)"
    try:
        import s3fs  # noqa: F401
    except ImportError:
        return "s3fs is not installed (the s3 extra)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(no log: {exc})"


@contextmanager
def patched_environ(values: dict[str, str | None]) -> Iterator[None]:
    """``os.environ`` with ``values`` set (None: removed), restored afterwards."""
    def apply(pairs: dict[str, str | None]) -> None:
        for k, v in pairs.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    saved = {k: os.environ.get(k) for k in values}
    try:
        apply(values)
        yield
    finally:
        apply(saved)


def _die_with_parent() -> None:
    """In the child before exec, on Linux: SIGTERM when the test process dies, however it dies (the
    fixture's finally does not run on SIGKILL or SIGTERM)."""
    import ctypes
    import signal

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_until_up(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Poll the port, then a list-buckets call, until S3Proxy answers; fail (with the log's tail)
    when it exits or START_TIMEOUT passes."""
    import s3fs

    deadline = time.monotonic() + START_TIMEOUT
    last: BaseException | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"S3Proxy exited with {proc.returncode} while starting; the end of {log}:\n"
                               + _tail(log))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                pass
            s3fs.S3FileSystem(skip_instance_cache=True).call_s3("list_buckets")
            return
        except Exception as exc:  # not listening yet, or not answering S3 yet
            last = exc
        time.sleep(0.2)
    raise RuntimeError(f"S3Proxy did not answer within {START_TIMEOUT:.0f} s (last: {last!r}); the end of "
                       f"{log}:\n" + _tail(log))


@contextmanager
def running_s3proxy(tmp: Path) -> Iterator[S3Store]:
    """S3Proxy on a free 127.0.0.1 port with fresh random credentials, its objects under
    ``tmp / "data"`` and its log in ``tmp / "s3proxy.log"``; the bucket :data:`BUCKET` created;
    os.environ's AWS_* variables pointing at it until the block ends, then restored; the process
    stopped whatever happens (terminate, kill after 10 s)."""
    import secrets

    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    identity, credential = secrets.token_hex(10), secrets.token_hex(20)  # hex: safe in any syntax
    data = tmp / "data"
    data.mkdir()
    conf = tmp / "s3proxy.conf"
    # the key names are S3Proxy's and jclouds'; filesystem.basedir also serves filesystem-nio2
    conf.write_text(f"s3proxy.endpoint={endpoint}\n"
                    "s3proxy.authorization=aws-v2-or-v4\n"
                    f"s3proxy.identity={identity}\n"
                    f"s3proxy.credential={credential}\n"
                    "jclouds.provider=filesystem-nio2\n"
                    f"jclouds.identity={identity}\n"
                    f"jclouds.credential={credential}\n"
                    f"jclouds.filesystem.basedir={data}\n")
    env = {"AWS_ACCESS_KEY_ID": identity, "AWS_SECRET_ACCESS_KEY": credential, "AWS_ENDPOINT_URL": endpoint,
           # S3Proxy rejects the CRC32 checksum headers botocore >= 1.36 sends by default
           "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
           "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
           "AWS_DEFAULT_REGION": "us-east-1",
           # nothing of a developer's own AWS set-up may reach the test server
           "AWS_SESSION_TOKEN": None, "AWS_SECURITY_TOKEN": None, "AWS_PROFILE": None}
    log = tmp / "s3proxy.log"
    with open(log, "wb") as out, patched_environ(env):
        proc = subprocess.Popen(["java", "-cp", f"{S3PROXY_LIB}/*", "org.gaul.s3proxy.Main",
                                 "--properties", str(conf)],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=tmp,
                                preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        try:
            _wait_until_up(proc, port, log)
            store = S3Store(bucket=BUCKET, endpoint=endpoint)
            store.fs().call_s3("create_bucket", Bucket=BUCKET)  # s3fs's mkdir fails on S3Proxy
            yield store
        finally:
            _stop(proc)
