"""`python -m flowctl` runs the command line."""

from flowctl.cli.main import main

main()
