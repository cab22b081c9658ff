from __future__ import annotations

import io
import logging
import os
import secrets
import threading
import time
from collections import namedtuple
from pathlib import Path

import pytest

from flowctl.exceptions import InvalidInput, NotFound
from flowctl.logs import (
    MaskingFilter,
    MaskingWriter,
    SecretMasker,
    append_line,
    follow,
    read_log,
    resolve_inside,
    task_log_path,
)

IDS = {"dag_id": "report", "run_id": "scheduled__2024-01-02T03:04:05+00:00", "task_id": "load"}


# --- paths ---------------------------------------------------------------------------------------


def test_log_path_of_an_unmapped_task(tmp_path: Path) -> None:
    path = task_log_path(tmp_path, **IDS, map_index=-1, try_number=2)

    assert path == (
        tmp_path / "dag_id=report" / "run_id=scheduled__2024-01-02T03:04:05+00:00" / "task_id=load" / "attempt=2.log"
    )


def test_log_path_of_a_mapped_task_has_a_map_index_folder(tmp_path: Path) -> None:
    path = task_log_path(tmp_path, **IDS, map_index=0, try_number=1)

    assert path.relative_to(tmp_path).parts[-2:] == ("map_index=0", "attempt=1.log")


@pytest.mark.parametrize("field", ["dag_id", "run_id", "task_id"])
@pytest.mark.parametrize(
    "bad",
    [
        "",
        ".",
        "..",
        "a/b",
        "../../etc",
        "/etc/passwd",
        "a\\b",
        "..\\x",
        "a\x00b",
        "a\nb",
        "a\x1bb",
        "x" * 251,
    ],
)
def test_log_path_rejects_ids_that_could_leave_the_folder(tmp_path: Path, field: str, bad: str) -> None:
    with pytest.raises(InvalidInput):
        task_log_path(tmp_path, **{**IDS, field: bad}, map_index=-1, try_number=1)


@pytest.mark.parametrize("literal", ["%2e%2e", "...", "a..b", "manual__2024-01-01T00:00:00.123+09:00", "x" * 250])
def test_log_path_accepts_dots_and_percent_text_that_is_no_traversal(tmp_path: Path, literal: str) -> None:
    path = task_log_path(tmp_path, **{**IDS, "run_id": literal}, map_index=-1, try_number=1)

    assert path.parent.parent.name == f"run_id={literal}"
    assert path.is_relative_to(tmp_path)


@pytest.mark.parametrize(("map_index", "try_number"), [(-2, 1), (0, 0), (0, -1), (True, 1), (0, "1")])
def test_log_path_rejects_bad_numbers(tmp_path: Path, map_index: object, try_number: object) -> None:
    with pytest.raises(InvalidInput):
        task_log_path(tmp_path, **IDS, map_index=map_index, try_number=try_number)  # type: ignore[arg-type]


def test_resolve_inside_accepts_a_file_in_the_folder(tmp_path: Path) -> None:
    log = task_log_path(tmp_path, **IDS, map_index=-1, try_number=1)

    assert resolve_inside(tmp_path, log) == log.resolve()
    assert resolve_inside(tmp_path, log.relative_to(tmp_path)) == log.resolve()


@pytest.mark.parametrize("escape", ["..", "../outside.log", "/etc/passwd", "a/../../x"])
def test_resolve_inside_rejects_paths_outside_the_folder(tmp_path: Path, escape: str) -> None:
    base = tmp_path / "logs"
    base.mkdir()

    with pytest.raises(InvalidInput):
        resolve_inside(base, Path(escape))


def test_resolve_inside_rejects_a_symlink_pointing_outside(tmp_path: Path) -> None:
    # Given a logs folder holding a symlink to a file outside it
    base = tmp_path / "logs"
    base.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cr3t")
    (base / "attempt=1.log").symlink_to(secret)

    # When / Then
    with pytest.raises(InvalidInput):
        resolve_inside(base, base / "attempt=1.log")


# --- masking -------------------------------------------------------------------------------------


def test_mask_replaces_a_secret_in_text() -> None:
    masker = SecretMasker(["hunter2-pass"])

    assert masker.mask("login with hunter2-pass ok") == "login with *** ok"


def test_mask_replaces_the_url_encoded_form() -> None:
    masker = SecretMasker(["p@ss w/rd!"])

    masked = masker.mask("postgresql://bob:p%40ss%20w%2Frd%21@db/x and form p%40ss+w%2Frd%21")

    assert masked == "postgresql://bob:***@db/x and form ***"


def test_mask_prefers_the_longest_secret() -> None:
    masker = SecretMasker(["abcd", "abcdefgh"])

    assert masker.mask("xx abcdefgh yy") == "xx *** yy"


def test_short_and_common_values_are_not_masked() -> None:
    masker = SecretMasker(["abc", "true", "None", "null", "", "   "])
    masker.add(None)

    assert masker.mask("abc is true, None or null") == "abc is true, None or null"


def test_multi_line_secret_is_masked_line_by_line() -> None:
    masker = SecretMasker(["-----BEGIN KEY-----\nMIIEvQIBADANBg\n-----END KEY-----"])

    assert masker.mask("line: MIIEvQIBADANBg\n") == "line: ***\n"


def test_secret_added_later_is_masked() -> None:
    masker = SecretMasker()
    assert masker.mask("token-12345") == "token-12345"

    masker.add("token-12345")

    assert masker.mask("token-12345") == "***"


def test_mask_value_hides_sensitive_keys_and_secrets_in_nested_structures() -> None:
    Pair = namedtuple("Pair", "left right")
    masker = SecretMasker(["s3cr3t-value"])
    value = {
        "conn": {"password": "anything", "api_key": 12345, "host": "db", "extra": ["x s3cr3t-value y"]},
        "args": ("s3cr3t-value", 3, None),
        "pair": Pair("s3cr3t-value", "ok"),
        "tags": {"s3cr3t-value"},
    }

    masked = masker.mask_value(value)

    assert masked == {
        "conn": {"password": "***", "api_key": "***", "host": "db", "extra": ["x *** y"]},
        "args": ("***", 3, None),
        "pair": Pair("***", "ok"),
        "tags": {"***"},
    }
    assert value["conn"]["password"] == "anything"  # the original is untouched


def test_mask_value_masks_a_secret_used_as_a_dict_key() -> None:
    masker = SecretMasker(["s3cr3t-value"])

    assert masker.mask_value({"s3cr3t-value": 1, "for s3cr3t-value": {"x": "s3cr3t-value"}, 7: "ok"}) == {
        "***": 1,
        "for ***": {"x": "***"},
        7: "ok",
    }


def test_mask_cut_leaves_out_the_end_where_a_secret_may_have_been_cut_in_two() -> None:
    masker = SecretMasker(["s3cr3t-value", "other-secret-longer"])
    cut = ("start s3cr3t-value " + "x" * 40 + " other-secret-longer")[:-5]  # the start of a longer text

    shown = masker.mask_cut(cut)

    assert shown.startswith("start *** xxx") and "other" not in shown
    assert SecretMasker().mask_cut("nothing to hide") == "nothing to hide"


def test_a_masker_of_many_secrets_is_built_quickly() -> None:
    # Every known secret of an installation goes into one masker: adding them must not sort once per value.
    values = [secrets.token_urlsafe(12) for _ in range(5000)]

    started = time.perf_counter()
    masker = SecretMasker(values)
    elapsed = time.perf_counter() - started

    assert masker.mask(f"a {values[4321]} b") == "a *** b"
    assert elapsed < 2.0


def test_mask_value_survives_a_self_referencing_list() -> None:
    loop: list[object] = ["s3cr3t-value"]
    loop.append(loop)

    masked = SecretMasker(["s3cr3t-value"]).mask_value(loop)

    assert masked[0] == "***"


def test_masking_a_megabyte_with_fifty_secrets_is_fast() -> None:
    # A sanity bound, generous for slow CI machines; bench/ holds the real measurements.
    values = [secrets.token_urlsafe(12) for _ in range(50)]
    masker = SecretMasker(values)
    line = "INFO 2024-01-01 12:00:00 task running with ordinary output, value=42 " + values[7] + "\n"
    text = line * ((1 << 20) // len(line))
    masker.mask(text)  # warm the pattern cache

    started = time.perf_counter()
    masked = masker.mask(text)
    elapsed = time.perf_counter() - started

    assert values[7] not in masked
    assert elapsed < 1.0


# --- masking streams and records -----------------------------------------------------------------


def test_masking_writer_masks_a_secret_split_across_writes() -> None:
    raw = io.StringIO()
    writer = MaskingWriter(raw, SecretMasker(["hunter2-pass"]))

    writer.write("pass=hunt")
    writer.write("er2-pass")
    assert raw.getvalue() == ""  # a partial line waits
    writer.write(" done\nnext")

    assert raw.getvalue() == "pass=*** done\n"
    writer.flush()
    assert raw.getvalue() == "pass=*** done\nnext"


def test_masking_writer_works_as_print_target_on_a_file_descriptor(tmp_path: Path) -> None:
    path = tmp_path / "out.log"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        writer = MaskingWriter(descriptor, SecretMasker(["hunter2-pass"]))
        print("password is hunter2-pass", "é", file=writer)
        writer.writelines(["a hunter2-pass\n", "b\n"])
        writer.close()

        assert writer.fileno() == descriptor
    finally:
        os.close(descriptor)
    assert path.read_text(encoding="utf-8") == "password is *** é\na ***\nb\n"


def test_masking_filter_masks_message_args_and_traceback() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(MaskingFilter(SecretMasker(["hunter2-pass"])))
    logger = logging.getLogger("test_logs.masking_filter")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("connecting with %s", "hunter2-pass")
        try:
            raise RuntimeError("bad password hunter2-pass")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)

    output = stream.getvalue()
    assert "hunter2" not in output
    assert "connecting with ***" in output
    assert "RuntimeError: bad password ***" in output


# --- files ---------------------------------------------------------------------------------------


def test_append_line_creates_parents_and_adds_lines(tmp_path: Path) -> None:
    path = tmp_path / "dag_id=a" / "attempt=1.log"

    append_line(path, "first")
    append_line(path, "task process killed by SIGKILL\n")

    assert path.read_text() == "first\ntask process killed by SIGKILL\n"
    assert path.stat().st_mode & 0o777 == 0o644 & ~_umask()


def test_read_log_pages_by_byte_offset(tmp_path: Path) -> None:
    path = tmp_path / "attempt=1.log"
    path.write_bytes("one\ntwo é\nthree\n".encode())

    first, offset = read_log(path, limit=8)
    rest, end = read_log(path, offset=offset)

    assert first == "one\ntwo "  # the é cut by the limit waits for the next read
    assert first + rest == "one\ntwo é\nthree\n"
    assert end == path.stat().st_size
    assert read_log(path, offset=end) == ("", end)


def test_read_log_replaces_invalid_bytes(tmp_path: Path) -> None:
    path = tmp_path / "attempt=1.log"
    path.write_bytes(b"ok \xff\xfe done\n")

    assert read_log(path) == ("ok \ufffd\ufffd done\n", 11)


def test_read_log_of_a_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        read_log(tmp_path / "attempt=9.log")


def test_read_log_rejects_negative_offset(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        read_log(tmp_path / "x.log", offset=-1)


def test_follow_yields_lines_as_a_writer_appends_them(tmp_path: Path) -> None:
    # Given a writer thread appending ten lines to a file that does not exist yet
    path = tmp_path / "attempt=1.log"
    expected = "".join(f"line {n}\n" for n in range(10))

    def write_lines() -> None:
        for n in range(10):
            append_line(path, f"line {n}")

    writer = threading.Thread(target=write_lines)
    received: list[str] = []
    deadline = time.monotonic() + 10

    # When following until everything is seen (or the deadline passes)
    writer.start()
    for text in follow(path, poll=0.01, stop=lambda: "".join(received) == expected or time.monotonic() > deadline):
        received.append(text)
    writer.join()

    # Then
    assert "".join(received) == expected


def test_follow_yields_what_is_left_after_stop(tmp_path: Path) -> None:
    path = tmp_path / "attempt=1.log"
    path.write_text("already there\n")

    assert list(follow(path, stop=lambda: True)) == ["already there\n"]


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
