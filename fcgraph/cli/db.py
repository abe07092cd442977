"""`fcgraph db ...`: the local Neo4j server, its credentials and the schema."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fcgraph.cli.common import (
    StateDirOption,
    connection_options,
    console,
    handle_errors,
)
from fcgraph.db import server
from fcgraph.graph.connection import Connection, Graph, read_credentials
from fcgraph.graph.schema import apply_schema
from fcgraph.paths import state_dir

app = typer.Typer(help="Start, stop and inspect the local Neo4j; apply the schema.",
                  no_args_is_help=True)


@app.command("install")
@handle_errors
def install_cmd(state: StateDirOption = None) -> None:
    """Fetch the Neo4j jars from Maven Central into the state folder (done once)."""
    with console.status(f"fetching Neo4j {server.NEO4J_VERSION} from Maven Central"):
        lib = server.install(state_dir(state))
    console.print(f"Neo4j {server.NEO4J_VERSION} jars in {lib}")


@app.command("start")
@handle_errors
def start_cmd(
    state: StateDirOption = None,
    bolt_port: Annotated[int | None, typer.Option(
        help="Bolt port on 127.0.0.1 (default: the last start's, else 7687).", min=1, max=65535,
        show_default=False)] = None,
    http_port: Annotated[int | None, typer.Option(
        help="HTTP port on 127.0.0.1 (default: the last start's, else 7474).", min=1, max=65535,
        show_default=False)] = None,
    heap: Annotated[str | None, typer.Option(
        help="JVM heap size, e.g. 2g (default: sized for the store).", show_default=False)] = None,
    pagecache: Annotated[str | None, typer.Option(
        help="Neo4j page cache size, e.g. 4g (default: the store plus 20 %, at most 40 % of "
             "the memory).", show_default=False)] = None,
    timeout: Annotated[float, typer.Option(min=1.0, help="Seconds to wait for Bolt.")] = 180.0,
    initial_password: Annotated[
        str | None,
        typer.Option("--initial-password", envvar="FCGRAPH_INITIAL_PASSWORD", show_envvar=True,
                     show_default=False,
                     help="The password the first start sets (default: 32 generated letters and "
                          "digits); any printable characters, at least 8. Never printed.")] = None,
) -> None:
    """Start the local Neo4j 5.26 Community in the background (idempotent; two at once start one)."""
    with console.status("starting Neo4j (the first start fetches it from Maven Central)"):
        st = server.start(state_dir(state), bolt_port=bolt_port, http_port=http_port, heap=heap,
                          pagecache=pagecache, timeout=timeout, initial_password=initial_password)
    console.print(f"Neo4j {st.version} running at {st.uri} (pid {st.pid})")
    if bolt_port is not None and not st.uri.endswith(f":{bolt_port}"):
        console.print("[yellow]note:[/] it was already running on another port; "
                      "`fcgraph db stop` first to change ports")
    if st.browser_url:
        console.print(f"Neo4j Browser: {st.browser_url} (fcgraph style and query guide on connect)")
    else:
        console.print("[yellow]note:[/] this server was started without Neo4j Browser; "
                      "`fcgraph db stop` and start it again to serve it")
    console.print("credentials: `fcgraph db credentials`")


@app.command("stop")
@handle_errors
def stop_cmd(state: StateDirOption = None) -> None:
    """Shut the local Neo4j down cleanly (committed data is kept)."""
    with console.status("stopping Neo4j"):
        stopped = server.stop(state_dir(state))
    console.print("Neo4j stopped" if stopped else "Neo4j was not running")


@app.command("status")
@handle_errors
def status_cmd(state: StateDirOption = None) -> None:
    """URI, version, PID, data folder and node / relationship counts of the local Neo4j."""
    st = server.status(state_dir(state))
    table = Table(show_header=False, box=None)
    for key, value in st.as_dict().items():
        table.add_row(key, "-" if value is None else str(value))
    console.print(table)
    if not st.running:
        raise typer.Exit(3)


@app.command("credentials")
@handle_errors
def credentials_cmd(
    state: StateDirOption = None,
    show: Annotated[bool, typer.Option("--show", help="Print NEO4J_URI/USER/PASSWORD lines.")] = False,
) -> None:
    """Say where the local server's credentials are; with --show, print them for `eval`."""
    layout = server.ServerLayout.of(state_dir(state))
    creds = read_credentials(layout.credentials)
    if not creds:
        raise server.FcgraphError(f"no credentials in {layout.credentials}: run `fcgraph db start`")
    if show:
        for key in ("NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD"):
            typer.echo(f"{key}={shlex.quote(creds[key])}")
        return
    console.print(f"credentials of {creds['NEO4J_URI']} (user {creds['NEO4J_USER']}) are in "
                  f"{layout.credentials}, readable by you only")
    console.print('print them with `fcgraph db credentials --show`, or load them into a shell with '
                  '`eval "$(fcgraph db credentials --show)"`', highlight=False)


@app.command("import-csv")
@handle_errors
def import_csv_cmd(
    csv_dir: Annotated[Path, typer.Argument(help="Folder written by `fcgraph export-csv`.", exists=True,
                                            file_okay=False)],
    state: StateDirOption = None,
) -> None:
    """Bulk-load `fcgraph export-csv` files into the local Neo4j (stopped; replaces its data)."""
    with console.status("neo4j-admin database import full"):
        report = server.import_csv(state_dir(state), csv_dir)
    console.print(report)
    console.print("now `fcgraph db start` and `fcgraph db init` (bulk import creates no indexes)")


@app.command("init")
@handle_errors
@connection_options
def init_cmd(
    *,
    conn: Connection,
) -> None:
    """Apply cypher/schema.cypher (constraints and indexes); safe to repeat."""
    with Graph.open(conn) as graph:
        applied = apply_schema(graph)
    console.print(f"schema version {applied} applied to {conn.uri} ({conn.database})")
