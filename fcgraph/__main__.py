from fcgraph.cli import app

app(prog_name="fcgraph")
