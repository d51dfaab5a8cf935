"""read_file and list_directory: read-only, confined to the start folder, clear when refusing."""

from __future__ import annotations

import os

import pytest
from conftest import call

from vllm_chat.core.tools import MAX_OUTPUT_CHARS, ToolRegistry
from vllm_chat.core.tools.files import (
    MAX_LIST_ENTRIES,
    MAX_READ_BYTES,
    ListDirectoryTool,
    ReadFileTool,
)


@pytest.fixture
def registry(root) -> ToolRegistry:
    return ToolRegistry([ReadFileTool(root), ListDirectoryTool(root)])


@pytest.fixture
def outside(tmp_path):
    """A secret file next to (not inside) the start folder."""
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret\n")
    return secret


async def read(registry, **arguments):
    return await registry.execute(call("read_file", arguments))


async def listing(registry, **arguments):
    return await registry.execute(call("list_directory", arguments))


async def test_a_text_file_is_read_whole(registry, root):
    (root / "notes.md").write_text("# Notes\nline two\n", encoding="utf-8")
    outcome = await read(registry, path="notes.md")
    assert outcome.status == "ok"
    assert outcome.output == "# Notes\nline two\n"


async def test_non_ascii_text_and_a_byte_order_mark_are_handled(registry, root):
    (root / "bom.txt").write_bytes("\ufeffgrüße, 東京\n".encode())
    assert (await read(registry, path="bom.txt")).output == "grüße, 東京\n"


async def test_offset_and_max_lines_read_a_part_and_say_where_to_continue(registry, root):
    (root / "count.txt").write_text("".join(f"line {i}\n" for i in range(1, 11)))
    outcome = await read(registry, path="count.txt", offset=3, max_lines=2)
    assert outcome.output == "line 3\nline 4\n[showing lines 3-4; call read_file with offset=5 to continue]"
    outcome = await read(registry, path="count.txt", offset=9, max_lines=5)
    assert outcome.output == "line 9\nline 10\n"


async def test_an_offset_past_the_end_is_explained(registry, root):
    (root / "short.txt").write_text("a\nb\n")
    outcome = await read(registry, path="short.txt", offset=10)
    assert outcome.output == "Error: 'short.txt' has 2 lines; offset 10 is past its end"
    outcome = await read(registry, path="short.txt", offset=3)
    assert outcome.output == "['short.txt' has 2 lines; nothing follows]"


async def test_an_empty_file_says_it_is_empty(registry, root):
    (root / "empty.txt").write_text("")
    assert (await read(registry, path="empty.txt")).output == "('empty.txt' is empty)"


async def test_a_big_file_is_read_up_to_the_size_cap_with_the_offset_to_continue(registry, root):
    line = "x" * 99 + "\n"
    (root / "big.log").write_text(line * 10_000)  # about 1 MB
    outcome = await read(registry, path="big.log")
    shown = MAX_READ_BYTES // 100
    assert outcome.output.startswith(line * shown)
    assert outcome.output.endswith(
        f"[stopped at the {MAX_READ_BYTES // 1024} KB limit; call read_file with offset={shown + 1} to continue]"
    )
    follow = await read(registry, path="big.log", offset=shown + 1, max_lines=1)
    assert follow.output.startswith(line)


async def test_a_single_line_longer_than_the_cap_is_cut(registry, root):
    (root / "minified.js").write_text("é" * MAX_READ_BYTES + "\nnext\n")
    outcome = await read(registry, path="minified.js")
    assert outcome.status == "ok"
    assert outcome.output.endswith(
        f"[line 1 is longer than {MAX_READ_BYTES // 1024} KB and was cut; "
        "call read_file with offset=2 for the lines after it]"
    )
    assert (await read(registry, path="minified.js", offset=2)).output == "next\n"


async def test_binary_files_are_refused(registry, root):
    (root / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    outcome = await read(registry, path="image.png")
    assert outcome.output == "Error: 'image.png' is a binary file (16 bytes); read_file only reads text"


async def test_text_that_is_not_utf8_is_refused(registry, root):
    (root / "latin1.txt").write_bytes("ok\nça va\n".encode("latin-1"))
    outcome = await read(registry, path="latin1.txt")
    assert outcome.output == (
        "Error: 'latin1.txt' is not UTF-8 text (line 2 has other bytes); read_file only reads UTF-8 text"
    )


async def test_missing_files_folders_and_special_files_get_clear_messages(registry, root):
    (root / "docs").mkdir()
    os.mkfifo(root / "pipe")
    assert (await read(registry, path="nope.txt")).output == (
        "Error: there is no file 'nope.txt' (paths are relative to the start folder)"
    )
    assert (await read(registry, path="docs")).output == (
        "Error: 'docs' is a folder; use list_directory to see what it holds"
    )
    assert (await read(registry, path="pipe")).output == "Error: 'pipe' is not a regular file"


@pytest.mark.parametrize("path", ["../secret.txt", "docs/../../secret.txt", "./../secret.txt"])
async def test_dot_dot_cannot_leave_the_start_folder(registry, root, outside, path):
    (root / "docs").mkdir()
    outcome = await read(registry, path=path)
    assert outcome.status == "error"
    assert f"{path!r} is outside the folder vllm-chat was started in ({root.resolve()})" in outcome.output
    assert "top secret" not in outcome.output


async def test_an_absolute_path_outside_is_refused_and_one_inside_is_fine(registry, root, outside):
    (root / "inside.txt").write_text("inside\n")
    assert (await read(registry, path=str(outside))).status == "error"
    assert (await read(registry, path="/etc/passwd")).status == "error"
    assert (await read(registry, path=str(root / "inside.txt"))).output == "inside\n"


async def test_a_symlink_pointing_outside_is_refused(registry, root, outside):
    (root / "link.txt").symlink_to(outside)
    (root / "linkdir").symlink_to(outside.parent, target_is_directory=True)
    assert "is outside the folder" in (await read(registry, path="link.txt")).output
    assert "is outside the folder" in (await read(registry, path="linkdir/secret.txt")).output
    assert "is outside the folder" in (await listing(registry, path="linkdir")).output


async def test_a_symlink_inside_the_folder_is_followed(registry, root):
    (root / "real.txt").write_text("real\n")
    (root / "alias.txt").symlink_to(root / "real.txt")
    assert (await read(registry, path="alias.txt")).output == "real\n"


async def test_reading_changes_nothing(registry, root):
    target = root / "keep.txt"
    target.write_text("unchanged\n")
    before = (target.read_bytes(), target.stat().st_mtime_ns, sorted(os.listdir(root)))
    await read(registry, path="keep.txt")
    await listing(registry)
    assert (target.read_bytes(), target.stat().st_mtime_ns, sorted(os.listdir(root))) == before


def test_the_file_tools_offer_no_way_to_write():
    for tool in (ReadFileTool, ListDirectoryTool):
        assert set(tool.parameters["properties"]) <= {"path", "offset", "max_lines", "show_hidden"}


async def test_a_folder_lists_folders_first_then_files_with_sizes(registry, root):
    (root / "src").mkdir()
    (root / "Docs").mkdir()
    (root / "b.txt").write_text("12345")
    (root / "A.md").write_text("")
    (root / "link").symlink_to(root / "b.txt")
    outcome = await listing(registry)
    assert outcome.output == (
        "Folder '.' (5 entries):\n"
        "dir   Docs/\n"
        "dir   src/\n"
        "file  A.md  (0 bytes)\n"
        "file  b.txt  (5 bytes)\n"
        "link  link"
    )


async def test_hidden_entries_are_left_out_unless_asked_for(registry, root):
    (root / ".git").mkdir()
    (root / ".env").write_text("X=1")
    (root / "main.py").write_text("")
    assert (await listing(registry, path=".")).output == (
        "Folder '.' (1 entry):\nfile  main.py  (0 bytes)\n"
        "[2 hidden entries not shown; pass show_hidden=true to see them]"
    )
    shown = (await listing(registry, path=".", show_hidden=True)).output
    assert "dir   .git/" in shown and "file  .env  (3 bytes)" in shown


async def test_a_subfolder_is_listed_and_an_empty_one_says_so(registry, root):
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "c.txt").write_text("c")
    assert (await listing(registry, path="a/b")).output == "Folder 'a/b' (1 entry):\nfile  c.txt  (1 bytes)"
    (root / "void").mkdir()
    assert (await listing(registry, path="void")).output == "Folder 'void' (0 entries):\n(empty)"


async def test_long_listings_are_capped_with_a_count_of_the_rest(registry, root):
    for i in range(MAX_LIST_ENTRIES + 7):
        (root / f"f{i:04d}").write_text("")
    lines = (await listing(registry)).output.splitlines()
    assert len(lines) == 1 + MAX_LIST_ENTRIES + 1
    assert lines[-1] == "[... 7 more entries not shown]"


async def test_listing_refuses_files_missing_folders_and_the_outside(registry, root, outside):
    (root / "f.txt").write_text("")
    assert (await listing(registry, path="f.txt")).output == (
        "Error: 'f.txt' is a file, not a folder; use read_file to read it"
    )
    assert (await listing(registry, path="missing")).output == (
        "Error: there is no folder 'missing' (paths are relative to the start folder)"
    )
    assert "is outside the folder" in (await listing(registry, path="..")).output


def test_a_file_read_always_fits_in_what_the_registry_sends():
    assert MAX_READ_BYTES + 200 < MAX_OUTPUT_CHARS
