"""Hooks to external systems (DbApiHook, PostgresHook, HttpHook, ...): filled by the hooks issue."""
