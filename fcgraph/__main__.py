from fcgraph.cli import app

if __name__ == "__main__":  # not in the worker processes a local Dask cluster spawns
    app(prog_name="fcgraph")
