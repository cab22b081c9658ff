"""The scheduler loop: run creation, planning, dispatch, wake-up socket, crash recovery."""
