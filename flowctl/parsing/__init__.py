"""The only place DAG files are imported: parse processes, timeouts, change detection, sync to the DB."""
