"""The installed vllm-chat in a real terminal: type a prompt, read the reply off the
screen, quit cleanly."""

from __future__ import annotations


def test_typing_a_prompt_shows_the_streamed_reply_and_ctrl_q_quits(run_app, sim_url: str) -> None:
    app = run_app("--base-url", sim_url)
    app.wait_for(r"sim-chat .*connected")
    app.keys("hello", "Enter")  # typed in one burst, as a fast typist or a paste does
    app.wait_for(r"I'm sim-chat, a simulated vLLM model", r"█ hello")
    app.wait_for(r"tok/s")
    app.keys("C-q")
    app.wait_for(r"__EXITED__ 0")


def test_the_demo_flag_starts_its_own_server(run_app) -> None:
    app = run_app("--demo")
    app.wait_for(r"\(demo\).*connected")
    app.type("markdown")
    app.keys("Enter")
    app.wait_for(r"That's all the Markdown I know")
    app.keys("C-q")
    app.wait_for(r"__EXITED__ 0")


def test_continue_reopens_the_last_conversation_with_its_messages(run_app, sim_url: str) -> None:
    first = run_app("--base-url", sim_url)
    first.wait_for(r"sim-chat .*connected")
    first.type("echo remember the walrus")
    first.keys("Enter")
    first.wait_for(r"█ remember the walrus")
    first.keys("C-q")
    first.wait_for(r"__EXITED__ 0")

    again = run_app("--base-url", sim_url, "-c")
    again.wait_for(r"█ remember the walrus", r"echo remember the walrus")
    again.type("echo and more")
    again.keys("Enter")
    again.wait_for(r"█ and more")
    again.keys("C-q")
    again.wait_for(r"__EXITED__ 0")
