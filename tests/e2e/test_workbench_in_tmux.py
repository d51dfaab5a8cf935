"""The workbench in a real terminal: `@` suggests files of the start folder, tab inserts
one, and the file goes with the prompt; `/` offers the saved prompts."""

from __future__ import annotations

from pathlib import Path


def test_at_suggests_a_file_and_it_is_sent_with_the_prompt(run_app, sim_url: str, tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "plan.md").write_text("step one: ship it\n")
    app = run_app("--base-url", sim_url, "--no-tools")
    app.wait_for(r"sim-chat .*connected")
    app.type("echo read @pla")
    app.wait_for(r"@notes/plan\.md")
    app.keys("Tab")
    app.wait_for(r"echo read @notes/plan\.md")
    app.keys("Enter")
    app.wait_for(r"📄 notes/plan\.md", r"█ echo read @notes/plan\.md")
    app.wait_for(r"step one: ship it")  # the echo shows the file's text came along
    app.type("/tr")
    app.wait_for(r"/translate +Translate text")
    app.keys("Escape")
    app.keys("C-q")
    app.wait_for(r"__EXITED__ 0")
