"""The Flask web UI and REST API; never imports DAG files, the scheduler or executors."""
