"""One readable sentence from a failed tool's output, secrets masked, the rest in a log."""

from __future__ import annotations

import stat

from fcgraph.db import server
from fcgraph.paths import state_dir
from fcgraph.tool_errors import telling_line, tool_failure

PICOCLI_USAGE = """Unknown option: '-Xy7secretpw'

USAGE

neo4j-admin dbms set-initial-password [-h] [--expand-commands] [--require-password-change]
                                      [--verbose] [--additional-config=<file>] <password>
OPTIONS

      --verbose           Enable verbose output.
"""
JAVA_TRACE = """Exception in thread "main" org.neo4j.cli.CommandFailedException: Import failed
\tat org.neo4j.importer.ImportCommand.execute(ImportCommand.java:123)
\tat picocli.CommandLine.executeUserObject(CommandLine.java:2045)
Caused by: java.io.IOException: wrapped
\tat org.neo4j.io.fs.Whatever.run(Whatever.java:1)
Caused by: java.io.IOException: No space left on device
\t... 4 more
"""
MAVEN = """[INFO] Scanning for projects...
[ERROR] Failed to execute goal on project fcgraph-neo4j: Could not resolve dependencies
[ERROR] -> [Help 1]
"""


def test_the_telling_line_is_chosen_and_plain():
    assert telling_line(PICOCLI_USAGE) == "Unknown option: '-Xy7secretpw'"
    assert telling_line(JAVA_TRACE) == "No space left on device"  # the root cause
    assert telling_line(MAVEN).startswith("Failed to execute goal on project fcgraph-neo4j")
    assert telling_line("") == "no output"
    assert telling_line("\x1b[31mplain red\x1b[0m") == "plain red"
    assert len(telling_line("error: " + "x" * 1000)) == 240


def test_tool_failure_is_one_sentence_with_the_secret_masked(tmp_path):
    log = tmp_path / "logs" / "tool.log"
    exc = tool_failure("setting the password", PICOCLI_USAGE, advice="try again", log=log,
                       secrets=["-Xy7secretpw"])
    message = str(exc)
    assert message == ("setting the password failed: \"Unknown option: '***'\"; try again; "
                       f"the whole output is in {log}")
    assert "\n" not in message and "[" not in message.split('"')[1][:1]
    assert "-Xy7secretpw" not in log.read_text() and "Enable verbose output." in log.read_text()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


def test_a_real_neo4j_admin_failure_reads_as_one_sentence(tmp_path):
    """neo4j-admin itself refuses a too-short password: the message quotes its reason."""
    lib = server.install(state_dir())  # the test server's jars, fetched once
    layout = server.ServerLayout.of(tmp_path / "state")
    layout.root.mkdir(parents=True)
    (layout.root / "lib").symlink_to(lib)
    server._write_config(layout, 1, 2, "64m")
    try:
        server._set_initial_password(layout, server.java_executable(), "-short")
    except server.FcgraphError as exc:
        message = str(exc)
    else:
        raise AssertionError("a 6-character password was accepted")
    assert message.startswith('setting the initial Neo4j password with neo4j-admin failed: "A password '
                              'must be at least 8 characters."'), message
    assert "-short" not in message and "\n" not in message and str(layout.admin_log) in message
    assert "-short" not in layout.admin_log.read_text()
