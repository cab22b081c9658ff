"""Use cases shared by the CLI, the web UI and the REST API; each takes the caller's session."""
