"""flowctl: a single-node workflow scheduler. This module re-exports the public authoring names.

Kept import-light: `flowctl version` and `flowctl --help` must not pay for SQLAlchemy or Flask.
"""

__version__ = "0.1.0"
