"""Hooks to external systems (DbApiHook, PostgresHook, HttpHook, ...): filled by the hooks issue."""

from flowctl.hooks.base import BaseHook
from flowctl.hooks.dbapi import DbApiHook
from flowctl.hooks.http import HttpHook
from flowctl.hooks.mysql import MySqlHook
from flowctl.hooks.postgres import PostgresHook
from flowctl.hooks.sqlite import SqliteHook

__all__ = ["BaseHook", "DbApiHook", "HttpHook", "MySqlHook", "PostgresHook", "SqliteHook"]
