"""The workflow core: running deployed diagrams as instances, one command at a time."""
