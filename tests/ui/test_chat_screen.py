"""The chat screen, driven with Pilot against a real (simulated) vLLM over HTTP:
send, stream, stop, switch model, help, and the errors a user can act on."""

from __future__ import annotations

import io

from tests.support.pilot import (
    answer_dialog,
    notes,
    screen_text,
    send,
    wait_for_reply,
    wait_for_screen,
    wait_for_text,
    wait_until,
)
from tests.support.ports import held_port
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
    """Every notification shown so far, one per line (expired toasts included)."""
    return notes(app)


async def test_a_prompt_is_sent_and_the_reply_streams_into_a_markdown_view(paced_sim, make_app) -> None:
    # Paced: a reply streamed in under a quarter second gets no tok/s figure.
    async with make_app(base_url=paced_sim.base_url) as (app, pilot):
        await connected(app, pilot)
        await wait_until(pilot, lambda: "sim-chat" in screen_text(app).splitlines()[0])
        await send(app, pilot, "markdown")
        assert app.chat.prompt.text == ""
        await wait_for_reply(app, pilot)
        reply = last(app)
        assert reply.status == "complete" and "| Field" in reply.content
        view = app.chat.messages.query(AssistantMessageView).last()
        await wait_until(pilot, lambda: view.body.source == reply.content)
        text = await wait_for_text(pilot, app, "That's all the Markdown I know.", "tokens", "tok/s", "TTFT")
        assert "| Field" not in text, "the table is rendered, not shown as source"


async def test_the_view_follows_the_bottom_while_the_reply_grows(paced_sim, make_app) -> None:
    async with make_app(base_url=paced_sim.base_url, size=(80, 20)) as (app, pilot):
        await connected(app, pilot)
        await send(app, pilot, "long 400")
        messages = app.chat.messages
        await wait_until(pilot, lambda: app.session.running and 0 < messages.max_scroll_y == messages.scroll_y,
                         message="the view at the bottom of a reply taller than the screen, still streaming")
        await wait_for_reply(app, pilot)
        await wait_until(pilot, lambda: messages.scroll_y == messages.max_scroll_y > 0)


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
            await wait_for_text(pilot, app, "stopped")
            await wait_until(pilot, lambda: app.focused is app.chat.prompt)
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
        text = await wait_for_text(pilot, app, "Reasoning · ", "Type help to see what I can do.")
        assert reply.reasoning[:30] not in text, "folded: the answer shows, the reasoning does not"
        block.toggle()
        await wait_for_text(pilot, app, reply.reasoning.strip()[:20])
        assert block.collapsed is False


async def test_switching_model_applies_to_the_next_turn_and_keeps_the_conversation(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await connected(app, pilot)
        await send(app, pilot, "hello")
        await wait_for_reply(app, pilot)
        await pilot.press("ctrl+o")
        await wait_for_screen(pilot, app, ModelPickerScreen)
        await wait_for_text(pilot, app, "32k ctx")
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
        await wait_for_text(pilot, app, "Keys")
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
        area = await wait_until(pilot, lambda: (found := app.screen.query("#system-prompt-text")) and found.first())
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
        await wait_for_text(pilot, app, "[bold red]loud[/]", "␛[31mRED␛[0m", "␇")
        assert "\x1b" not in "".join(app.chat.messages.query(AssistantMessageView).last().body.source)


# -- errors a user can act on -------------------------------------------------------


async def test_an_unreachable_server_is_named_retried_and_greeted_when_back(make_app) -> None:
    with held_port() as held:  # refused until the server comes back on it
        url = f"http://127.0.0.1:{held.port}/v1"
        async with make_app(base_url=url) as (app, pilot):
            await wait_until(pilot, lambda: app.session.connection == "disconnected")
            await wait_for_text(pilot, app, f"Can't reach the server at {url}", "vllm serve")
            app.chat.prompt.load_text("my draft")
            held.release()
            async with SimServer(SimConfig(port=held.port)):
                await wait_until(pilot, lambda: app.session.connection == "connected")
                await wait_until(pilot, lambda: "is back" in notifications(app))
                await wait_for_text(pilot, app, "connected", absent=["Can't reach"])
                assert app.chat.prompt.text == "my draft"


async def test_a_missing_api_key_says_how_to_pass_one(make_app) -> None:
    async with SimServer(SimConfig(api_key="sk-server-key-123456")) as locked:
        async with make_app(base_url=locked.base_url, api_key="EMPTY") as (app, pilot):
            await wait_until(pilot, lambda: app.session.connection == "error")
            await wait_for_text(pilot, app, "--api-key", "VLLM_CHAT_API_KEY")


async def test_a_base_url_without_v1_suggests_the_corrected_url(sim, make_app) -> None:
    root = sim.base_url.removesuffix("/v1")
    async with make_app(base_url=root) as (app, pilot):
        await wait_until(pilot, lambda: app.session.connection == "error")
        await wait_for_text(pilot, app, f"Did you mean --base-url {root}/v1")


async def test_an_unknown_model_lists_the_models_the_server_serves(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, model="[b]nope[/b]") as (app, pilot):
        await connected(app, pilot)
        await send(app, pilot, "hello")
        await wait_for_reply(app, pilot)
        notice = await wait_until(pilot, lambda: (found := app.chat.messages.query(ErrorNotice)) and found.last())
        assert notice.error.kind == "unknown_model"
        # The server's text is shown literally, never as markup.
        await wait_for_text(pilot, app, "'[b]nope[/b]'", "It serves: sim-chat, sim-vision", "ctrl+o")
        assert last(app).status == "failed"


async def test_a_reopened_conversation_explains_a_failed_reply_as_it_was_explained_live(sim, make_app) -> None:
    from vllm_chat.core.store import SessionStore

    async with make_app(base_url=sim.base_url, model="nope") as (app, pilot):
        await connected(app, pilot)
        await send(app, pilot, "hello")
        await wait_for_reply(app, pilot)
        await wait_for_text(pilot, app, "ctrl+o pick a model · ctrl+r retry")
        live = str(app.chat.messages.query(ErrorNotice).last().content)
        conv_id = app.session.conversation.id
    reopened = SessionStore().load(conv_id)
    async with make_app(base_url=sim.base_url, conversation=reopened) as (app, pilot):
        await wait_for_text(pilot, app, "ctrl+o pick a model · ctrl+r retry", "Pick one with ctrl+o")
        notice = app.chat.messages.query(ErrorNotice).last()
        assert notice.error.kind == "unknown_model", "not a generic stream error"
        assert str(notice.content) == live


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
        await wait_for_text(pilot, app, "Not saved:", "kept in memory")
        assert last(app).content == "kept in memory", "nothing received is lost"
        root.unlink()
        moved.rename(root)
        await send(app, pilot, "echo and now saved")
        await wait_for_reply(app, pilot)
        await wait_for_text(pilot, app, "and now saved", absent=["Not saved:"])
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
            await wait_for_text(pilot, app, "context window of 64 tokens", "ctrl+n", "alt+s")


async def test_a_silent_server_times_out_and_the_draft_is_kept(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url, request_timeout=0.5) as (app, pilot):
        await connected(app, pilot)
        await send(app, pilot, "sim:stall=3 hello")
        app.chat.prompt.load_text("next question")
        await wait_for_reply(app, pilot)
        await wait_for_text(pilot, app, "sent nothing for 0.5 s", "ctrl+r retry")
        assert app.chat.prompt.text == "next question"


async def test_a_busy_server_asks_to_retry(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await connected(app, pilot)
        await send(app, pilot, "sim:busy hello")
        await wait_for_reply(app, pilot)
        await wait_for_text(pilot, app, "busy (503)")
        assert sim.stats.requests == 1, "no silent retry by the SDK"


async def test_an_error_event_mid_stream_keeps_the_partial_reply_and_can_be_retried(sim, make_app) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await connected(app, pilot)
        await send(app, pilot, "sim:error-mid=20 long 200")
        await wait_for_reply(app, pilot)
        reply = last(app)
        assert reply.status == "failed" and reply.content
        await wait_for_text(pilot, app, "error in the middle of the reply")
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
        await wait_for_text(pilot, app, "broke in the middle of the reply")
