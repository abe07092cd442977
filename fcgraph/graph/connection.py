"""Connection settings, and :class:`Graph`: one Neo4j database through one driver.

Every function of fcgraph that reads or writes the graph takes a :class:`Graph` (the driver and
the database name travel together). Settings come from, in order: explicit arguments (CLI
options), the environment (``NEO4J_URI``, ``NEO4J_USER``, ``NEO4J_PASSWORD``,
``NEO4J_DATABASE``), then the credentials that ``fcgraph db start`` wrote into the state folder.
The password is kept out of ``repr`` and is never printed or logged.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import neo4j
from neo4j.exceptions import AuthError, ClientError, Neo4jError, ServiceUnavailable, SessionExpired

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


@dataclass(frozen=True)
class Graph:
    """One database of one Neo4j server (or cluster): the handle graph functions take.

    ``driver``: a connected :class:`neo4j.Driver`; ``database``: the database every query of
    this handle runs in. :meth:`read` runs in a read transaction (routed to a reader on a
    cluster), :meth:`write` in a write transaction. ``with Graph.open(conn) as graph:`` closes
    the driver at the end.
    """

    driver: neo4j.Driver
    database: str = DEFAULT_DATABASE

    @classmethod
    def open(cls, conn: Connection) -> Graph:
        """Connect (:func:`open_driver`: one readable line on failure) to ``conn.database``."""
        return cls(open_driver(conn), conn.database)

    def read(self, query: str, params: dict[str, Any] | None = None, *,
             timeout: float | None = None, what: str = "reading the graph") -> neo4j.EagerResult:
        """Run ``query`` with ``params`` in a read transaction of at most ``timeout`` seconds.

        Neo4j's errors become one-line :class:`FcgraphError` that start with ``what``.
        """
        try:
            return self.driver.execute_query(
                neo4j.Query(query, timeout=timeout), params or {},  # type: ignore[arg-type]
                routing_=neo4j.RoutingControl.READ, database_=self.database)
        except Neo4jError as exc:
            if "TransactionTimedOut" in (exc.code or ""):
                raise FcgraphError(f"{what} timed out after {timeout:g} s: narrow it (e.g. a "
                                   "higher min_z, a smaller limit) or allow a longer timeout") from None
            message = (exc.message or str(exc)).strip().splitlines()[0]
            raise FcgraphError(f"{what} failed: {message}") from None
        except (ServiceUnavailable, SessionExpired) as exc:
            raise FcgraphError(f"{what}: lost the connection to Neo4j ({_first_line(exc)})") from None

    def write(self, query: str, params: dict[str, Any] | None = None) -> neo4j.EagerResult:
        """Run ``query`` with ``params`` in a write transaction (retried on transient errors)."""
        return self.driver.execute_query(query, params or {},  # type: ignore[arg-type]
                                         database_=self.database)

    def session(self, *, read: bool = False, **config: Any) -> neo4j.Session:
        """A session on this database (``read``: read access mode; ``config``: more session
        settings such as ``fetch_size``), e.g. for auto-commit ``CALL { ... } IN TRANSACTIONS``
        statements, explicit transactions and streamed results."""
        mode = neo4j.READ_ACCESS if read else neo4j.WRITE_ACCESS
        return self.driver.session(database=self.database, default_access_mode=mode, **config)

    def close(self) -> None:
        """Close the driver."""
        self.driver.close()

    def __enter__(self) -> Graph:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
