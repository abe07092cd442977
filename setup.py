"""fcgraph's packages: its sub-packages, and the top-level cypher/ folder (the query library,
schema, Browser style and Bloom perspective) shipped inside the package as fcgraph.cypher.
Everything else (metadata, dependencies, package data) is in pyproject.toml."""

from setuptools import find_namespace_packages, setup

CYPHER = ["fcgraph.cypher", "fcgraph.cypher.browser", "fcgraph.cypher.bloom"]

setup(packages=[*find_namespace_packages(include=["fcgraph", "fcgraph.*"], exclude=["*.__pycache__"]),
                *CYPHER],
      package_dir={"fcgraph.cypher": "cypher"})
