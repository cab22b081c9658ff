"""The `flowctl` command line: a click group with lazily imported subcommand modules."""
