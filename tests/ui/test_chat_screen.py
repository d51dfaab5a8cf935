"""The chat screen, driven with Pilot against a real (simulated) vLLM over HTTP:
send, stream, stop, switch model, help, and the errors a user can act on."""

from __future__ import annotations

import io
import socket

from tests.support.pilot import (
    answer_dialog,
    screen_text,
    send,
    wait_for_reply,
    wait_for_screen,
    wait_until,
)
from vllm_chat.simserver import SimConfig, SimServer
from vllm_chat.ui.screens.help import HelpScreen
from vllm_chat.ui.screens.model_picker import ModelPickerScreen
from vllm_chat.ui.widgets.message_views import (
    AssistantMessageView,
    ErrorNotice,
    ReasoningBlock,
)


def last(app):
    return app.session.conversation.messages[-1]


async def connected(app, pilot) -> None:
    await wait_until(pilot, lambda: app.session.models, message="the model list")




def notifications(app) -> str:
    return "\n".join(str(n.message) for n in app._notifications)


async def test_a_prompt_is_sent_and_the_reply_streams_into_a_markdown_view(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await connected(app, pilot)
        await wait_until(pilot, lambda: "sim-chat" in screen_text(app).splitlines()[0])
        await send(app, pilot, "markdown")
        assert app.chat.prompt.text == ""
        await wait_for_reply(app, pilot)
        reply = last(app)
        assert reply.status == "complete" and "| Field" in reply.content
        view = app.chat.messages.query(AssistantMessageView).last()
        assert view.body.source == reply.content
        text = screen_text(app)
        assert "That's all the Markdown I know." in text
        assert "| Field" not in text, "the table is rendered, not shown as source"
        assert "tokens" in text and "tok/s" in text and "TTFT" in text


async def test_the_view_follows_the_bottom_while_the_reply_grows(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, size=(80, 20)) as (app, pilot):
        await connected(app, pilot)
        await send(app, pilot, "long 400")
        await wait_for_reply(app, pilot)
        messages = app.chat.messages
        assert messages.max_scroll_y > 0
        assert messages.scroll_y == messages.max_scroll_y


async def test_escape_stops_the_reply_keeps_the_partial_text_and_frees_the_prompt(make_app) -> None:
    async with SimServer(SimConfig(tps=60.0)) as slow:
        async with make_app(base_url=slow.base_url) as (app, pilot):
            await connected(app, pilot)
            await send(app, pilot, "long 3000")
            await wait_until(pilot, lambda: len(last(app).content) > 40 or
                             len("".join(app.chat.messages.query(AssistantMessageView).last().body.source)) > 40)
            await pilot.press("escape")
            await wait_for_reply(app, pilot)
            reply = last(app)
            assert reply.status == "stopped" and reply.content
            await wait_until(pilot, lambda: slow.stats.aborted == 1, message="the server to abort")
            assert slow.stats.generation_tokens < 3000
            assert "stopped" in screen_text(app)
            assert app.focused is app.chat.prompt
            await send(app, pilot, "hello")
            await wait_for_reply(app, pilot)
            assert last(app).status == "complete"


async def test_escape_right_after_sending_stops_the_reply_before_it_starts(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await connected(app, pilot)
        app.chat.messages.add_message(app.session.add_user_message("long 3000"))
        app.chat.run_turn()
        app.chat.action_stop()  # before the turn's worker has reached the engine
        await wait_for_reply(app, pilot)
        assert last(app).status == "stopped"
        assert len(last(app).content.split()) < 1000, "the reply did not run to its end"


async def test_reasoning_streams_into_its_own_block_which_folds_when_the_answer_starts(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await connected(app, pilot)
        await send(app, pilot, "/think why is the sky blue")
        await wait_for_reply(app, pilot)
        reply = last(app)
        assert reply.reasoning and reply.content
        block = app.chat.messages.query(ReasoningBlock).last()
        assert block.collapsed
        assert reply.reasoning[:30] not in screen_text(app)
        block.toggle()
        await pilot.pause(0.1)
        assert block.collapsed is False


async def test_switching_model_applies_to_the_next_turn_and_keeps_the_conversation(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await connected(app, pilot)
        await send(app, pilot, "hello")
        await wait_for_reply(app, pilot)
        await pilot.press("ctrl+o")
        await wait_for_screen(pilot, app, ModelPickerScreen)
        assert "32k ctx" in screen_text(app)
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: app.session.conversation.model == "sim-vision")
        await wait_until(pilot, lambda: "sim-vision" in screen_text(app).splitlines()[0])
        await send(app, pilot, "hello again")
        await wait_for_reply(app, pilot)
        assert sim.stats.last_request_body["model"] == "sim-vision"
        assert [m.role for m in app.session.conversation.messages] == ["user", "assistant"] * 2
        assert last(app).model == "sim-vision"


async def test_the_help_screen_lists_every_binding_with_its_id(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await pilot.press("f1")
        await wait_for_screen(pilot, app, HelpScreen)
        assert "Keys" in screen_text(app)
        from rich.console import Console

        console = Console(width=120, record=True, file=io.StringIO())
        console.print(app.screen._table())
        text = console.export_text()
        for binding_id in ("send", "newline", "stop", "new-conversation", "pick-model", "retry", "quit", "help"):
            assert binding_id in text, binding_id
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, HelpScreen))


async def test_system_prompt_and_sampling_options_reach_the_server(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, system_prompt="Be terse.",
                        sampling={"temperature": 0.3, "top_k": 5, "min_p": 0.1, "seed": 7,
                                  "repetition_penalty": 1.1, "max_tokens": 50}) as (app, pilot):
        await connected(app, pilot)
        await send(app, pilot, "hello")
        await wait_for_reply(app, pilot)
        body = sim.stats.last_request_body
        assert body["messages"][0] == {"role": "system", "content": "Be terse."}
        assert (body["temperature"], body["seed"], body["max_tokens"]) == (0.3, 7, 50)
        assert (body["top_k"], body["min_p"], body["repetition_penalty"]) == (5, 0.1, 1.1)
        assert body["stream_options"] == {"include_usage": True}


async def test_the_system_prompt_can_be_edited_in_the_app(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await connected(app, pilot)
        await pilot.press("f2")
        await pilot.pause(0.1)
        area = app.screen.query_one("#system-prompt-text")
        area.load_text("Answer in French.")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.session.conversation.system_prompt == "Answer in French.")
        await send(app, pilot, "hello")
        await wait_for_reply(app, pilot)
        assert sim.stats.last_request_body["messages"][0]["content"] == "Answer in French."


async def test_model_output_markup_and_escape_sequences_are_shown_inert(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await connected(app, pilot)
        await send(app, pilot, "echo [bold red]loud[/] \x1b[31mRED\x1b[0m \x1b]52;c;aGk=\x07 done")
        await wait_for_reply(app, pilot)
        text = screen_text(app)
        assert "[bold red]loud[/]" in text
        assert "␛[31mRED␛[0m" in text and "␇" in text
        assert "\x1b" not in "".join(app.chat.messages.query(AssistantMessageView).last().body.source)


# -- errors a user can act on -------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_an_unreachable_server_is_named_retried_and_greeted_when_back(make_app) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    async with make_app(base_url=url) as (app, pilot):
        await wait_until(pilot, lambda: app.session.connection == "disconnected")
        text = screen_text(app)
        assert f"Can't reach the server at {url}" in text and "vllm serve" in text
        app.chat.prompt.load_text("my draft")
        async with SimServer(SimConfig(port=port)):
            await wait_until(pilot, lambda: app.session.connection == "connected", timeout=20)
            assert "Can't reach" not in screen_text(app)
            assert "is back" in notifications(app)
            assert app.chat.prompt.text == "my draft"


async def test_a_missing_api_key_says_how_to_pass_one(make_app) -> None:
    async with SimServer(SimConfig(api_key="sk-server-key-123456")) as locked:
        async with make_app(base_url=locked.base_url, api_key="EMPTY") as (app, pilot):
            await wait_until(pilot, lambda: app.session.connection == "error")
            text = screen_text(app)
            assert "--api-key" in text and "VLLM_CHAT_API_KEY" in text


async def test_a_base_url_without_v1_suggests_the_corrected_url(sim, make_app) -> None:
    root = sim.base_url.removesuffix("/v1")
    async with make_app(base_url=root) as (app, pilot):
        await wait_until(pilot, lambda: app.session.connection == "error")
        await wait_until(pilot, lambda: f"Did you mean --base-url {root}/v1" in screen_text(app))


async def test_an_unknown_model_lists_the_models_the_server_serves(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, model="[b]nope[/b]") as (app, pilot):
        await connected(app, pilot)
        await send(app, pilot, "hello")
        await wait_for_reply(app, pilot)
        notice = app.chat.messages.query(ErrorNotice).last()
        assert notice.error.kind == "unknown_model"
        text = screen_text(app)
        assert "'[b]nope[/b]'" in text, "server text is shown literally, never as markup"
        assert "It serves: sim-chat, sim-vision" in text and "ctrl+o" in text
        assert last(app).status == "failed"


async def test_a_reopened_conversation_explains_a_failed_reply_as_it_was_explained_live(sim, make_app) -> None:
    from vllm_chat.core.store import SessionStore

    async with make_app(base_url=sim.base_url, model="nope") as (app, pilot):
        await connected(app, pilot)
        await send(app, pilot, "hello")
        await wait_for_reply(app, pilot)
        await wait_until(pilot, lambda: "ctrl+o pick a model · ctrl+r retry" in screen_text(app))
        live = str(app.chat.messages.query(ErrorNotice).last().content)
        conv_id = app.session.conversation.id
    reopened = SessionStore().load(conv_id)
    async with make_app(base_url=sim.base_url, conversation=reopened) as (app, pilot):
        await wait_until(pilot, lambda: "ctrl+o pick a model · ctrl+r retry" in screen_text(app),
                         message="the same steps after the reload")
        notice = app.chat.messages.query(ErrorNotice).last()
        assert notice.error.kind == "unknown_model", "not a generic stream error"
        assert str(notice.content) == live
        assert "Pick one with ctrl+o" in screen_text(app)


async def test_a_save_that_fails_shows_a_banner_until_saving_works_again(sim, make_app, tmp_path) -> None:
    from vllm_chat.core.paths import ensure_private_dir
    from vllm_chat.core.store import SessionStore

    async with make_app(base_url=sim.base_url) as (app, pilot):
        await connected(app, pilot)
        root = ensure_private_dir(SessionStore().root)
        moved = tmp_path / "moved-away"
        root.rename(moved)
        root.write_text("a file where the sessions folder was")
        await send(app, pilot, "echo kept in memory")
        await wait_for_reply(app, pilot)
        await wait_until(pilot, lambda: "Not saved:" in screen_text(app), message="the save banner")
        assert "kept in memory" in screen_text(app)
        assert last(app).content == "kept in memory", "nothing received is lost"
        root.unlink()
        moved.rename(root)
        await send(app, pilot, "echo and now saved")
        await wait_for_reply(app, pilot)
        await wait_until(pilot, lambda: "Not saved:" not in screen_text(app), message="the banner to go")
        saved = SessionStore().load(app.session.conversation.id)
        assert [m.content for m in saved.messages] == ["echo kept in memory", "kept in memory",
                                                       "echo and now saved", "and now saved"]


async def test_a_prompt_longer_than_the_context_sent_anyway_says_so_with_the_window_size(make_app) -> None:
    from vllm_chat.ui.screens.room_offers import RoomOffersScreen

    async with SimServer(SimConfig(max_model_len=64)) as small:
        async with make_app(base_url=small.base_url, tools={"enabled": False}) as (app, pilot):
            await connected(app, pilot)
            await send(app, pilot, "word " * 200)
            await wait_for_screen(pilot, app, RoomOffersScreen)  # the check before sending caught it
            await answer_dialog(pilot, "s")  # send anyway: the server's own refusal is explained
            await wait_for_reply(app, pilot)
            await wait_until(pilot, lambda: "context window of 64 tokens" in screen_text(app))
            assert "ctrl+n" in screen_text(app) and "alt+s" in screen_text(app)


async def test_a_silent_server_times_out_and_the_draft_is_kept(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, request_timeout=0.5) as (app, pilot):
        await connected(app, pilot)
        await send(app, pilot, "sim:stall=3 hello")
        app.chat.prompt.load_text("next question")
        await wait_for_reply(app, pilot)
        text = screen_text(app)
        assert "sent nothing for 0.5 s" in text and "ctrl+r retry" in text
        assert app.chat.prompt.text == "next question"


async def test_a_busy_server_asks_to_retry(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await connected(app, pilot)
        await send(app, pilot, "sim:busy hello")
        await wait_for_reply(app, pilot)
        assert "busy (503)" in screen_text(app)
        assert sim.stats.requests == 1, "no silent retry by the SDK"


async def test_an_error_event_mid_stream_keeps_the_partial_reply_and_can_be_retried(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await connected(app, pilot)
        await send(app, pilot, "sim:error-mid=20 long 200")
        await wait_for_reply(app, pilot)
        reply = last(app)
        assert reply.status == "failed" and reply.content
        assert "error in the middle of the reply" in screen_text(app)
        assert sim.stats.requests == 1
        app.session.conversation.messages[-2].content = "hello"  # retry answers the same prompt
        await pilot.press("ctrl+r")
        await wait_for_reply(app, pilot)
        assert last(app).status == "complete"
        assert len(app.session.conversation.aside) == 1, "the failed reply is kept as version 1"


async def test_a_stream_cut_without_finish_is_marked_and_kept(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await connected(app, pilot)
        await send(app, pilot, "sim:drop=15 long 200")
        await wait_for_reply(app, pilot)
        reply = last(app)
        assert reply.status == "failed" and len(reply.content) > 10
        assert "broke in the middle of the reply" in screen_text(app)
