"""The local Neo4j server and what only it allows (the ``fcgraph db`` side).

- :mod:`fcgraph.db.server`: install from Maven Central, credentials, start with the Browser
  overlay of :mod:`fcgraph.viz.browser`, stop, status, the store swap journal.
- :mod:`fcgraph.db.bulk`: rebuild the local store from every run's files with
  ``neo4j-admin database import``, beside the live one, swapped in once checked.
- :mod:`fcgraph.db.load`: the loading path for a run (online through the driver, or the bulk
  rebuild when the server is fcgraph's own).

It sits above :mod:`fcgraph.graph` (schema, online ingest, queries) and :mod:`fcgraph.viz`.
"""
