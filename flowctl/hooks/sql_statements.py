"""Split a SQL script into statements at the semicolons that end them (pure: stdlib only).

Semicolons inside string literals, quoted identifiers, comments and PostgreSQL dollar-quoted bodies
do not split. Procedural blocks with semicolons in a `BEGIN ... END` body (a SQLite trigger, say) are
beyond a splitter that does not parse SQL: run those as one statement.
"""

from __future__ import annotations

import re

_DOLLAR_TAG = re.compile(r"\$[A-Za-z_][A-Za-z0-9_]*\$|\$\$")


def split_sql_string(sql: str, *, backslash_escapes: bool = False) -> list[str]:
    """The statements of `sql`, stripped and without their final semicolon; empty or comment-only pieces
    are dropped. `backslash_escapes`: a backslash escapes the next character in a literal (MySQL)."""
    statements: list[str] = []
    start = 0
    position = 0
    has_code = False  # whether the current piece holds more than whitespace and comments
    length = len(sql)
    while position < length:
        char = sql[position]
        if char == ";":
            _keep(statements, sql[start:position], has_code)
            start, has_code = position + 1, False
            position += 1
            continue
        if sql.startswith("--", position):
            position = _end_of(sql, "\n", position + 2)
            continue
        if sql.startswith("/*", position):
            position = _end_of(sql, "*/", position + 2)
            continue
        has_code = has_code or not char.isspace()
        if char in "'\"`":
            position = _end_of_quoted(sql, position, backslash_escapes=backslash_escapes)
        elif char == "$" and (tag := _DOLLAR_TAG.match(sql, position)) and not _inside_word(sql, position):
            position = _end_of(sql, tag.group(), tag.end())
        else:
            position += 1
    _keep(statements, sql[start:], has_code)
    return statements


def _keep(statements: list[str], piece: str, has_code: bool) -> None:
    if has_code:
        statements.append(piece.strip())


def _end_of(sql: str, closing: str, position: int) -> int:
    """The index just past the next `closing` (the end of the text when there is none)."""
    found = sql.find(closing, position)
    return len(sql) if found < 0 else found + len(closing)


def _end_of_quoted(sql: str, position: int, *, backslash_escapes: bool) -> int:
    """The index just past the literal or identifier opening at `position`; a doubled quote is an escape."""
    quote = sql[position]
    position += 1
    while position < len(sql):
        char = sql[position]
        if backslash_escapes and char == "\\" and quote != "`":
            position += 2
            continue
        if char == quote:
            if sql.startswith(quote, position + 1):
                position += 2
                continue
            return position + 1
        position += 1
    return position


def _inside_word(sql: str, position: int) -> bool:
    """A `$` right after an identifier character is part of a name (`a$b`) or a `$1` parameter, not a tag."""
    return position > 0 and (sql[position - 1].isalnum() or sql[position - 1] == "_")
