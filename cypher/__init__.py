"""The Cypher library (named queries, schema, Browser style, Bloom perspective), shipped as
fcgraph.cypher; read its files through fcgraph.paths.cypher_dir()."""
