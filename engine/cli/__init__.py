"""The command line: `xiezuo` and its groups of commands."""
