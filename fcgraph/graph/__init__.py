"""The graph in Neo4j, through any server a driver reaches (local, remote, cluster, managed).

- :mod:`~fcgraph.graph.connection`: connection settings (options, ``NEO4J_*``, the local
  server's credentials) and a driver that fails with one readable line;
- :mod:`~fcgraph.graph.schema`: ``cypher/schema.cypher``, constraints and indexes, versioned;
- :mod:`~fcgraph.graph.ingest`: the online loader (batched ``UNWIND``; idempotent, resumable,
  atomic replace);
- :mod:`~fcgraph.graph.states`: what the graph holds about every significant edge of a run;
- :mod:`~fcgraph.graph.import_files`: ``neo4j-admin`` import files for graphs too big for ``UNWIND``;
- :mod:`~fcgraph.graph.export`: a run back out of Neo4j (NetworkX, GraphML, Parquet, sparse);
- :mod:`~fcgraph.graph.queries`: the named query library as functions returning DataFrames.

The local server, the bulk rebuild and the choice of loading path are in :mod:`fcgraph.db`.
"""
