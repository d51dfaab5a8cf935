"""Several replies to one turn, seen from the session: N candidates, model comparisons,
and picking the one to continue with.

`plan_candidates` / `plan_comparison` check what the user asked for (the message
says what to do about a bad request); `run_candidates` streams the replies side
by side, saved as they arrive; `status().candidates` gives each one's live
figures; `pick_candidate` shows the chosen reply in their place (the others stay
as its alternatives) and says whether a turn must follow to run the tool calls
it asked for (`run_picked`). Any turn can be answered this way,
a regenerated one too: `rewind_to_last_user()` first.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import replace

from vllm_chat.core import tree
from vllm_chat.core.candidates import CandidatePlan, CandidateRun
from vllm_chat.core.events import (
    CandidateEvent,
    CandidatesDone,
    CandidatesStarted,
    ContentDelta,
    Event,
    ReasoningDelta,
    ServerBusy,
    ToolCallDelta,
)
from vllm_chat.core.session.status import Activity, SessionStatus
from vllm_chat.core.session.turns import TurnsPart
from vllm_chat.core.tool_rounds import unanswered_calls
from vllm_chat.core.turn_request import TurnOptions


class CandidatesPart(TurnsPart):
    """N candidates of a reply, the same turn sent to several models, and picking one."""

    _candidates: CandidateRun | None = None  # the group shown: streaming, or done and not yet picked

    def plan_candidates(self, count: int, *, beam: bool = False) -> CandidatePlan:
        """N candidates of the next reply, sampled (`n`) or by beam search. Raises ValueError
        saying what to change (a count out of range, temperature 0 without beam search)."""
        plan = CandidatePlan(count=count, beam=beam)
        problem = plan.problem(self.conversation.params.temperature)
        if problem:
            raise ValueError(problem)
        return plan

    def plan_comparison(self, models: list[str] | tuple[str, ...]) -> CandidatePlan:
        """The next reply from each of `models` (served models or LoRA adapters, 2 to 4).
        Raises ValueError saying what to change."""
        plan = CandidatePlan(models=tuple(models))
        problem = plan.problem()
        if problem:
            raise ValueError(problem)
        return plan

    def candidate_options(self, plan: CandidatePlan) -> TurnOptions:
        """How the replies are sent: as the conversation's turns, except that N candidates of
        one request go without tools (see `core.candidates`)."""
        options = self.options()
        return replace(options, tools_enabled=False) if plan.mode != "compare" else options

    async def run_candidates(self, plan: CandidatePlan) -> AsyncGenerator[Event, None]:
        """Stream several replies to the turn the conversation ends with (its last message
        is the user's), saving as they arrive. Events: `CandidatesStarted`, then each reply's
        events as `CandidateEvent(slot, ...)`, then `CandidatesDone`. `stop()` stops them all.
        Raises ValueError without a prompt to answer, `ChatErrorException` when no model is
        known and the server can't be asked for one."""
        conv = self.conversation
        if not conv.messages or conv.messages[-1].role != "user":
            raise ValueError("There is no prompt to answer: send one first.")
        await self.ensure_model()  # raises ChatErrorException when the server can't say which
        options = self.candidate_options(plan)
        async with aclosing(self._recorded(
                lambda on_idle, every: self._engine.run_candidates(conv, plan, options, on_idle=on_idle,
                                                                   idle_every=every))) as events:
            async for event in events:
                yield event

    def _follow(self, event: Event) -> None:
        match event:
            case CandidatesStarted(run=run):
                self._candidates = run
                now = self._now()
                self._tokens, self._first_token_at = 0, None
                self._mark_activity(Activity("waiting", since=now, sent_at=now))
            case CandidateEvent(event=ContentDelta()):
                self._streamed(self._activity, "answering")
            case CandidateEvent(event=ReasoningDelta()):
                self._streamed(self._activity, "thinking")
            case CandidateEvent(event=ToolCallDelta()):
                self._streamed(self._activity, "calling")
            case CandidateEvent(event=ServerBusy(wait=wait)) if self._activity is not None:
                now = self._now()
                self._mark_activity(replace(self._activity, phase="busy", since=now, retry_at=now + wait))
            case CandidateEvent():
                pass  # a reply's start and end are not the turn's: the header follows them all
            case CandidatesDone():
                self._context_used = self._last_usage()
                self._mark_activity(None)
            case _:
                super()._follow(event)

    def status(self) -> SessionStatus:
        """What a front end shows about this session now, each candidate's figures included."""
        status = super().status()
        run = self._candidates
        if run is None or run.conv is not self.conversation:
            return status
        return replace(status, candidates=run.status(self._now()))

    def pick_candidate(self, message_id: str) -> bool:
        """Continue with the reply `message_id` (one of the last group's, or any alternative
        of a shown reply): it is shown in place of the others, which stay as its alternatives;
        a comparison's pick also becomes the conversation's model. Saved at once. Returns
        True when the reply asked for tools: `run_picked()` then runs its calls (approval as
        usual) and lets the model go on. Raises KeyError for a
        message that is no alternative of a shown one, RuntimeError while replies stream."""
        if self._engine.running:
            raise RuntimeError("can't pick a reply while replies are streaming: wait or stop them first")
        conv = self.conversation
        target = next((m for m in tree.all_messages(conv) if m.id == message_id), None)
        if target is None:
            raise KeyError(f"message {message_id} is not in this conversation")
        shown = next((m for m in conv.messages if m.parent_id == target.parent_id and m.role == target.role), None)
        if shown is None:
            raise KeyError(f"message {message_id} is no alternative of a shown message")
        options = [m.id for m in tree.alternatives(conv, shown.id)]
        if message_id not in options:
            raise KeyError(f"message {message_id} is no alternative of a shown message")
        tree.choose(conv, shown.id, options.index(message_id) + 1)
        run = self._candidates
        if run is not None and run.plan.mode == "compare" and target.model and target.model != conv.model:
            conv.model = target.model
        self._candidates = None
        self._context_used = self._last_usage()
        self._changed()
        return conv.messages[-1].id == message_id and bool(unanswered_calls(conv))

    async def run_picked(self) -> AsyncGenerator[Event, None]:
        """Run the tool calls of the picked reply (approval as usual), then let the model go
        on: a turn like `run`, to call when `pick_candidate` returned True."""
        async with aclosing(self.run(replace(self.options(), run_pending=True))) as events:
            async for event in events:
                yield event

    def close_candidates(self) -> None:
        """Stop showing the last group's figures (the front end closed it); its replies stay
        in the conversation, the first one shown."""
        if self._candidates is not None:
            self._candidates = None
            self._status_changed()

    def actions_for(self, message_id: str) -> list[str]:
        """The actions of `TurnsPart.actions_for`, plus `candidates` and `compare` (regenerate
        the last reply as N candidates, or from several models) where `regenerate` is."""
        actions = super().actions_for(message_id)
        if "regenerate" in actions:
            at = actions.index("regenerate") + 1
            actions[at:at] = ["candidates", "compare"]
        return actions
