"""Connection settings and a driver that fails with one readable line.

Settings come from, in order: explicit arguments (CLI options), the environment (``NEO4J_URI``,
``NEO4J_USER``, ``NEO4J_PASSWORD``, ``NEO4J_DATABASE``), then the credentials that
``fcgraph db start`` wrote into the state folder. The password is kept out of ``repr`` and is
never printed or logged.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import neo4j
from neo4j.exceptions import AuthError, ClientError, ServiceUnavailable

from fcgraph.errors import FcgraphError
from fcgraph.io import atomic_write_text
from fcgraph.paths import state_dir as resolve_state_dir

DEFAULT_URI = "bolt://127.0.0.1:7687"
DEFAULT_USER = "neo4j"
DEFAULT_DATABASE = "neo4j"


@dataclass(frozen=True)
class Connection:
    """Where and as whom to connect. ``password`` is hidden from ``repr``."""

    uri: str = DEFAULT_URI
    user: str = DEFAULT_USER
    password: str | None = field(default=None, repr=False)
    database: str = DEFAULT_DATABASE


def credentials_file(state: Path) -> Path:
    """The file (mode 0600) holding the local server's ``NEO4J_*`` lines."""
    return state / "neo4j" / "credentials.env"


def read_credentials(path: Path) -> dict[str, str]:
    """Parse the ``KEY=value`` lines of a credentials file (values shell-quoted, as
    :func:`write_credentials` writes them); empty when the file does not exist."""
    if not path.exists():
        return {}
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        key = key.strip()
        if sep and key and not key.startswith("#"):
            try:
                words = shlex.split(value)
            except ValueError:
                raise FcgraphError(f"{path}: the value of {key} is not properly quoted") from None
            values[key] = words[0] if len(words) == 1 else value.strip()
    return values


def write_credentials(path: Path, uri: str, user: str, password: str) -> None:
    """Write ``NEO4J_URI`` / ``NEO4J_USER`` / ``NEO4J_PASSWORD`` lines (mode 0600, atomically),
    each value shell-quoted so that the file can also be sourced by a shell."""
    lines = {"NEO4J_URI": uri, "NEO4J_USER": user, "NEO4J_PASSWORD": password}
    atomic_write_text(path, "".join(f"{k}={shlex.quote(v)}\n" for k, v in lines.items()), mode=0o600)


def resolve_connection(
    uri: str | None = None,
    user: str | None = None,
    password: str | None = None,
    database: str | None = None,
    state_dir: str | os.PathLike[str] | None = None,
) -> Connection:
    """Combine options, environment and the local credentials file into a :class:`Connection`.

    The local credentials are used only for the local server's URI, so a remote ``NEO4J_URI``
    never receives the local password.
    """
    uri = uri or os.environ.get("NEO4J_URI")
    user = user or os.environ.get("NEO4J_USER")
    password = password or os.environ.get("NEO4J_PASSWORD")
    database = database or os.environ.get("NEO4J_DATABASE")
    local = read_credentials(credentials_file(resolve_state_dir(state_dir)))
    if local and (uri is None or uri == local.get("NEO4J_URI")):
        uri = uri or local.get("NEO4J_URI")
        user = user or local.get("NEO4J_USER")
        if password is None and (user is None or user == local.get("NEO4J_USER")):
            password = local.get("NEO4J_PASSWORD")
    return Connection(
        uri=uri or DEFAULT_URI,
        user=user or DEFAULT_USER,
        password=password,
        database=database or DEFAULT_DATABASE,
    )


def open_driver(conn: Connection) -> neo4j.Driver:
    """A connected driver, or :class:`FcgraphError` with one line saying what went wrong."""
    if conn.password is None:
        raise FcgraphError(
            f"no password for {conn.uri}: start the local server with `fcgraph db start`, "
            "or set NEO4J_PASSWORD"
        )
    try:
        driver = neo4j.GraphDatabase.driver(
            conn.uri,
            auth=(conn.user, conn.password),
            connection_timeout=10,
            max_transaction_retry_time=15,
            notifications_min_severity="OFF",
        )
    except ValueError as exc:
        raise FcgraphError(f"bad Neo4j URI {conn.uri!r}: {exc}") from None
    try:
        driver.verify_connectivity()
    except AuthError:
        driver.close()
        raise FcgraphError(
            f"Neo4j at {conn.uri} refused user {conn.user!r}: wrong password "
            "(see `fcgraph db credentials`)"
        ) from None
    except (ServiceUnavailable, OSError) as exc:
        driver.close()
        raise FcgraphError(
            f"cannot reach Neo4j at {conn.uri} ({_first_line(exc)}); "
            "start it with `fcgraph db start` or set NEO4J_URI"
        ) from None
    except ClientError as exc:
        driver.close()
        raise FcgraphError(f"Neo4j at {conn.uri}: {_first_line(exc)}") from None
    return driver


@contextmanager
def session_driver(conn: Connection) -> Iterator[neo4j.Driver]:
    """``with session_driver(conn) as driver:``: open, verify, and always close."""
    driver = open_driver(conn)
    try:
        yield driver
    finally:
        driver.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
