"""Looking at the graph: Neo4j Browser assets, the Bloom perspective and the offline HTML view."""
