"""Executors: the command/event interface, sequential and local (warm pool + fork per task)."""
