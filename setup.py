"""Package layout only; metadata lives in pyproject.toml.

migrations/ sits at the repo root (alembic's usual place, next to alembic.ini)
and ships inside the wheel as `flowctl.migrations`, so `flowctl db init` works
after a plain `pip install`; likewise the example DAGs in dags/ ship as `flowctl.example_dags`.
pyproject.toml alone cannot combine package
discovery with that one remapped directory, hence this file.
"""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["flowctl", "flowctl.*"]),
        "flowctl.migrations",
        "flowctl.migrations.versions",
        "flowctl.example_dags",
    ],
    package_dir={"flowctl": "flowctl", "flowctl.migrations": "migrations", "flowctl.example_dags": "dags"},
)
