"""Create or drop the CI test databases on the local PostgreSQL and MariaDB: databases.py create|drop NAME."""

from __future__ import annotations

import re
import sys

import psycopg2
import pymysql


def main(action: str, name: str) -> None:
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise SystemExit(f"bad database name {name!r}")
    pg = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    pg.autocommit = True
    my = pymysql.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)
    with pg.cursor() as pg_cursor, my.cursor() as my_cursor:
        pg_cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        my_cursor.execute(f"DROP DATABASE IF EXISTS {name}")
        if action == "create":
            pg_cursor.execute(f"CREATE DATABASE {name}")
            my_cursor.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    pg.close()
    my.close()


if __name__ == "__main__":
    main(*sys.argv[1:3])
