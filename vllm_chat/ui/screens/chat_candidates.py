"""What the chat screen does for several replies to one turn: N candidates (alt+n), a model
comparison (alt+m), the panel they stream into, and picking the one to continue with.

A mixin of `ChatScreen`. The prompt in the box is sent this way; with an empty box the
last prompt is answered again (a regenerate: the earlier reply stays as a version). The
panel takes the conversation's place while it is up; picking (or closing it) shows the
conversation again, with the other replies as versions of the one shown.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Literal

from textual import work

from vllm_chat.core.candidates import MAX_CANDIDATES, CandidatePlan
from vllm_chat.core.errors import ChatErrorException
from vllm_chat.core.events import CandidatesDone, CandidatesStarted
from vllm_chat.core.text import inert
from vllm_chat.ui.keys import with_keys
from vllm_chat.ui.widgets.candidates_panel import CandidatesPanel

if TYPE_CHECKING:  # pragma: no cover
    from vllm_chat.core.conversation import Message
    from vllm_chat.ui.screens.chat import ChatScreen

Target = Literal["prompt", "regenerate"]

YIELD_EVERY = 1 / 30
"""Longest the panel takes events in a row before the app handles keys and redraws."""


class CandidateActions:
    """N candidates, model comparisons, and the panel they stream into."""

    _next_plan: CandidatePlan | None = None  # the plan the prompt being sent goes out with

    # -- asking ------------------------------------------------------------------------------

    def _candidate_target(self: ChatScreen) -> Target | None:
        """What several replies would answer now: the prompt in the box, or the last prompt
        again; None (and a notice saying why) when neither can be."""
        if self.session.running:
            self.notify("A reply is still streaming: esc stops it.", severity="warning", markup=False)
            return None
        if self.prompt.text.strip():
            return "prompt"
        if self.session.can_regenerate():
            return "regenerate"
        self.notify("Type a prompt first: several replies answer the prompt you send (or, with an empty "
                    "box, your last prompt again).", severity="warning", markup=False)
        return None

    @staticmethod
    def _what(target: Target) -> str:
        return "your prompt" if target == "prompt" else "your last prompt again"

    def action_ask_candidates(self: ChatScreen) -> None:
        """Ask for N candidates of the reply (sampled, or by beam search) and pick one."""
        from vllm_chat.ui.screens.pick_list import PickListScreen

        target = self._candidate_target()
        if target is None:
            return
        items = [(f"n:{k}", f"{k} candidates (n = {k})") for k in range(2, MAX_CANDIDATES + 1)]
        items += [(f"beam:{k}", f"{k} candidates by beam search (use_beam_search)") for k in (2, 3, 4)]

        def chosen(choice: str | None) -> None:
            if choice is None:
                return
            kind, _, count = choice.partition(":")
            try:
                plan = self.session.plan_candidates(int(count), beam=kind == "beam")
            except ValueError as exc:
                self.notify(str(exc), title="Candidates", severity="warning", markup=False)
                return
            self.start_candidates(plan, target)

        self.app.push_screen(PickListScreen(f"Candidates of the reply to {self._what(target)}", items,
                                            highlight="n:3"), chosen)

    def action_compare_models(self: ChatScreen) -> None:
        """Send the turn to 2–4 served models or LoRA adapters at once and pick one."""
        from vllm_chat.ui.screens.compare import CompareScreen

        target = self._candidate_target()
        if target is None:
            return
        if len(self.session.models) < 2:
            self.notify("The server lists fewer than two models (is it connected?): there is nothing to compare.",
                        severity="warning", markup=False)
            return

        def chosen(models: list[str] | None) -> None:
            if models:
                self.start_candidates(self.session.plan_comparison(models), target)

        self.app.push_screen(CompareScreen(self.session.model_groups(), [self.session.conversation.model],
                                           self.session.plan_comparison, what=self._what(target)), chosen)

    def start_candidates(self: ChatScreen, plan: CandidatePlan, target: Target) -> None:
        """Send the prompt in the box (or the last prompt again) for several replies."""
        if self.session.running:
            self.notify("A reply is still streaming: esc stops it.", severity="warning", markup=False)
            return
        if target == "prompt":
            if not self.prompt.text.strip():
                self.notify("The prompt box is empty now: type the prompt again.", severity="warning", markup=False)
                return
            self._next_plan = plan
            self.prompt.action_submit()  # sent by `send`, as any prompt (attachments, history)
            return
        if not self.session.rewind_to_last_user():
            self.notify("Nothing to regenerate yet.", severity="warning", markup=False)
            return
        self.show_conversation()
        self.run_candidates(plan)

    def take_next_plan(self: ChatScreen) -> CandidatePlan | None:
        """The plan the prompt being sent was asked with (once: the next prompt is plain)."""
        plan, self._next_plan = self._next_plan, None
        return plan

    # -- running -----------------------------------------------------------------------------

    def run_candidates(self: ChatScreen, plan: CandidatePlan) -> None:
        """Stream several replies to the turn the conversation ends with into the panel."""
        self._turn_pending = True
        self._stop_requested = False
        self._candidates_worker(plan)

    @work(exclusive=True, group="turn", exit_on_error=False)
    async def _candidates_worker(self: ChatScreen, plan: CandidatePlan) -> None:
        ticker = self.set_interval(0.5, self._show_candidate_figures)
        breath = time.monotonic()
        try:
            async for event in self.session.run_candidates(plan):
                now = time.monotonic()
                if now - breath > YIELD_EVERY:
                    # Several streams can keep the event queue full, and taking a ready event
                    # never yields: let keys (esc) and the screen's refresh have their turn.
                    breath = now
                    await asyncio.sleep(0)
                if self._stop_requested:
                    self._stop_requested = False
                    self.session.stop()
                match event:
                    case CandidatesStarted(run=run):
                        self._open_panel(plan, run.labels, run.messages)
                    case CandidatesDone():
                        panel = self.candidates_panel
                        if panel is not None:
                            panel.finished()
                panel = self.candidates_panel
                if panel is not None:
                    panel.apply(event)
        except ValueError as exc:
            self.notify(str(exc), title="Candidates", severity="warning", markup=False)
        except ChatErrorException as exc:
            self.notify(f"{exc.error.message}\n{with_keys(self.app, exc.error.hint)}", title="Candidates",
                        severity="error", markup=False)
        finally:
            self._turn_pending = self._stop_requested = False
            ticker.stop()
            self.show_status()
            self._show_candidate_figures()
        self.send_queued_if_ready()  # prompts typed while the replies streamed

    _panel: CandidatesPanel | None = None

    @property
    def candidates_panel(self: ChatScreen) -> CandidatesPanel | None:
        """The panel of several replies, while it is up (kept, not queried: it is asked for
        at every streamed piece)."""
        return self._panel

    def _open_panel(self: ChatScreen, plan: CandidatePlan, labels: tuple[str, ...],
                    messages: tuple[Message, ...]) -> None:
        old = self.candidates_panel
        if old is not None:
            old.remove()
            self._panel = None
        prompt = next((m.content for m in reversed(self.session.conversation.messages) if m.role == "user"), "")
        first_line = prompt.strip().splitlines()[0] if prompt.strip() else ""
        if plan.mode == "compare":
            what = f"{len(labels)} models answer"
        else:
            what = f"{len(labels)} candidates{' by beam search' if plan.beam else ''} answer"
        panel = self._panel = CandidatesPanel(inert(f"{what}: {first_line[:200]}"), labels, messages,
                                              id="candidates")
        self.messages.display = False
        self.mount(panel, before=self.attachments)
        panel.focus()

    def _show_candidate_figures(self: ChatScreen) -> None:
        panel = self.candidates_panel
        if panel is not None:
            panel.show_figures(self.session.status().candidates)
        self.show_status()

    def drop_candidates_panel(self: ChatScreen) -> bool:
        """Take the panel away (the replies stay in the conversation, as versions); False
        when there was none. The caller shows the conversation again."""
        panel = self.candidates_panel
        if panel is None:
            return False
        self._panel = None
        panel.remove()
        self.session.close_candidates()
        self.messages.display = True
        return True

    def close_candidates_panel(self: ChatScreen) -> None:
        """Take the panel away and show the conversation, with the prompt focused."""
        if self.drop_candidates_panel():
            self.show_conversation()
            self.prompt.focus()

    # -- the panel's keys --------------------------------------------------------------------

    # Plain `on_...` names, not @on: the decorator is collected only from classes built by
    # Textual's metaclass, and this mixin is not one.
    def on_candidates_panel_picked(self: ChatScreen, event: CandidatesPanel.Picked) -> None:
        event.stop()
        model = self.session.conversation.model
        try:
            needs_turn = self.session.pick_candidate(event.message_id)
        except (KeyError, RuntimeError) as exc:
            self.notify(str(exc).strip("'\""), severity="warning", markup=False)
            return
        self.close_candidates_panel()
        if self.session.conversation.model != model:
            self.notify(f"Next turns use {self.session.conversation.model}.", title="Model", markup=False)
        if needs_turn:
            self.run_turn(picked=True)

    def on_candidates_panel_closed(self: ChatScreen, event: CandidatesPanel.Closed) -> None:
        event.stop()
        self.close_candidates_panel()
