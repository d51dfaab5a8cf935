"""What the simulated model says: a deterministic reply for every request.

`compose` looks at the request the way a helpful model would: a constrained
output (structured outputs: the text that satisfies the constraint, unless the
`unconstrained` fault says the server ignored it), a forced or useful tool call, tool results to report,
attachments to describe, a magic phrase (`help`, `hello`, `long N`, `echo`,
`markdown`), or a friendly fallback. The reply is text plus tool calls; the
stream writer decides how many of its tokens fit and how they are framed.

Tool rounds are decided from the request alone, so they are deterministic: a
prompt whose parts are joined by "then" is a chain (one round of calls per
part, then the answer); "keep calling tools" calls a tool in every round and
never answers; "with bad arguments" sends arguments that are not a JSON
object, as a real vLLM does when the schema isn't strict.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

from vllm_chat.simserver import constraints, faults, longform, replies, tokenizer
from vllm_chat.simserver.media import MediaItem, message_text
from vllm_chat.simserver.request import ChatRequest
from vllm_chat.simserver.toolcalls import (
    Call,
    arithmetic_expression,
    chain_steps,
    evaluate,
    plan_calls,
    tool_names,
)
from vllm_chat.simserver.validate import strip_switches

MAX_LONG_TOKENS = 1_000_000
_LONG_RE = re.compile(r"\blong\s+(\d+)\b|\b(?:write|give me|generate|produce)\s+(\d+)\s+tokens?\b", re.I)
_GREETING_RE = re.compile(r"^\s*(hello|hi|hey|hallo|howdy|greetings|good (morning|afternoon|evening))\b", re.I)
_ECHO_RE = re.compile(r"^\s*echo\b:?\s?(.*)$", re.I | re.S)
_TITLE_RE = re.compile(r"^\s*write a (?:short )?title\b", re.I)
_QUOTED_USER_RE = re.compile(r"User:\s*\n(.+)")
_SHOWCASE_RE = re.compile(r"\b(markdown|showcase|demo)\b", re.I)
_NEEDS_TOOL_RE = re.compile(r"\b(what time|time is it|today's date|what day|weather|forecast)\b", re.I)
_TOOL_CALL_RE = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.DOTALL)
_KEEP_CALLING_RE = re.compile(r"\bkeep calling tools\b", re.IGNORECASE)
_BAD_ARGUMENTS_RE = re.compile(r"\bwith bad arguments\b", re.IGNORECASE)
BAD_ARGUMENTS = "4e999938322561910101508859041020013600164341200431220019991260180"
"""What "with bad arguments" sends as every call's arguments: a bare number too large for
a float, exactly what a real vLLM streamed for a non-strict schema (capture `main/2a`)."""
CONTINUATION = " …and that is all I have to add."
"""What `continue_final_message` adds to assistant text the simulator would not have written."""


@dataclass(frozen=True)
class Reply:
    """One choice's output before tokenisation."""

    content: str = ""
    """The answer text (for a reasoning reply it starts with the blank line after `</think>`)."""
    reasoning: str | None = None
    """The reasoning text between `<think>` and `</think>`; None when the reply does not reason."""
    calls: tuple[Call, ...] = field(default_factory=tuple)
    """Tool calls, in order."""
    forced_tools: bool = False
    """Whether `tool_choice` forced the calls (then non-streamed `content` is `""`, not null)."""


def compose(req: ChatRequest, variant: int = 0) -> Reply:
    """The reply to a chat request; `variant` varies the wording between choices of `n > 1`."""
    partial = _partial_reply(req)
    if partial is not None:
        return _continuation(req, partial, variant)
    text = strip_switches(faults.strip_phrases(req.last_user_text))
    constrained = _constrained_output(req, text, variant)
    if constrained is not None:
        return constrained
    last_role = req.messages[-1].get("role") if req.messages else None
    calls: list[Call] = []
    if req.tool_mode == "named":
        calls = plan_calls(text, req.tools, "required", req.named_tool, True)
    elif req.tool_mode == "required" or (req.tool_mode == "auto" and not _is_magic_phrase(text)):
        calls = _calls_for_round(text, req, last_role)
    if calls and _BAD_ARGUMENTS_RE.search(text):
        calls = [replace(c, arguments=BAD_ARGUMENTS) for c in calls]
    if calls:
        return _with_thinking(req, _tool_thought(text, calls), _tool_preface(calls, req), calls)
    if last_role == "tool":
        return _with_thinking(req, "The tool results are in. I'll quote them in my answer.", _tool_answer(req.messages))
    thought, answer = _answer(text, req, variant)
    return _with_thinking(req, thought, answer)


def _partial_reply(req: ChatRequest) -> str | None:
    """The text of the assistant message `continue_final_message` asks to continue, if any."""
    if not req.fields.continue_final_message or not req.messages:
        return None
    last = req.messages[-1]
    return message_text(last.get("content")) if last.get("role") == "assistant" else None


def _continuation(req: ChatRequest, partial: str, variant: int) -> Reply:
    """What follows `partial`: the rest of the reply the conversation before it would get, when
    `partial` is the start of that reply (as after a cut by `max_tokens`), else a short closing line.
    The continuation never reasons again: the partial message is already past the thinking."""
    fields = req.fields.model_copy(update={"continue_final_message": False})
    # `max_tokens` bounds only the new tokens, so the reply being continued may be longer by the partial.
    budget = req.budget + tokenizer.count(partial)
    before = replace(req, fields=fields, messages=req.messages[:-1], media=req.media[:-1], budget=budget)
    reply = compose(before, variant)
    # A reasoning reply's content opens with the blank line after `</think>`; clients drop it.
    for content in (reply.content, reply.content.lstrip("\n")):
        if content.startswith(partial):
            return Reply(content[len(partial):], None, reply.calls, reply.forced_tools)
    return Reply(CONTINUATION, None, (), False)


def _calls_for_round(text: str, req: ChatRequest, last_role: str | None) -> list[Call]:
    """The calls of this round for `auto` or `required`: the next step of a chain, a call
    in every round for "keep calling tools", else the calls the prompt asks for (none once
    tool results are in, unless a call is required)."""
    parallel = req.fields.parallel_tool_calls is not False
    if _KEEP_CALLING_RE.search(text):
        return plan_calls(_KEEP_CALLING_RE.sub("", text), req.tools, "required", None, parallel)
    steps = chain_steps(_BAD_ARGUMENTS_RE.sub("", text), req.tools, parallel)
    done = tool_rounds(req.messages)
    if steps and done < len(steps):
        return steps[done]
    if last_role == "tool" and req.tool_mode != "required":
        return []
    return plan_calls(text, req.tools, req.tool_mode, None, parallel)


def tool_rounds(messages: list[dict[str, Any]]) -> int:
    """How many rounds of tool calls the current turn has had: assistant messages with
    `tool_calls` after the last user message."""
    rounds = 0
    for message in reversed(messages):
        if message.get("role") == "user":
            break
        if message.get("role") == "assistant" and message.get("tool_calls"):
            rounds += 1
    return rounds


def _title_for(text: str) -> str:
    """A title made of the first words of the user message quoted in a title request."""
    quoted = _QUOTED_USER_RE.search(text)
    words = re.findall(r"[\w'-]+", quoted.group(1) if quoted else text)[:5]
    title = " ".join(words) or "A conversation"
    return title[0].upper() + title[1:]


def _is_magic_phrase(text: str) -> bool:
    """Whether `text` asks for a scripted reply; a model with auto tool choice then
    answers it directly instead of reaching for a tool whose words happen to match."""
    return bool(
        _ECHO_RE.match(text)
        or _TITLE_RE.match(text)
        or _LONG_RE.search(text)
        or text.lower().strip(" ?!.") in ("help", "/help", "commands", "what can you do")
        or _GREETING_RE.search(text)
        or _SHOWCASE_RE.search(text)
    )


def _with_thinking(req: ChatRequest, thought: str, content: str, calls: list[Call] | None = None) -> Reply:
    forced = req.tool_mode in ("required", "named")
    if not req.thinking:
        return Reply(content, None, tuple(calls or ()), forced)
    budget = req.fields.thinking_token_budget
    reasoning = f"\n{_effort_scaled(req, thought)}\n"
    if budget is not None:
        reasoning = "".join(tokenizer.tokenize(reasoning)[: max(0, budget)])
    return Reply("\n\n" + content if content or calls else "", reasoning, tuple(calls or ()), forced)


def _answer(text: str, req: ChatRequest, variant: int) -> tuple[str, str]:
    """(thought, answer) for a turn without tool calls."""
    media = _last_user_media(req)
    if media:
        description = describe_media(media)
        question = f"\n\nYou asked: “{replies.snippet_of(text)}”. " if text else "\n\n"
        tail = (
            "I can't see or hear the content itself, "
            "but the types and sizes above are exactly what reached the server."
        )
        return f"The user attached media. {description} I'll report what arrived.", description + question + tail
    if not text:
        return "There is no question, so I'll say hello.", replies.hello(req.model, variant)
    echo = _ECHO_RE.match(text)
    if echo:
        return "The user wants their text repeated exactly.", echo.group(1)
    if _TITLE_RE.match(text):
        return "A title request: a few words from the user's first message.", _title_for(text)
    long_match = _LONG_RE.search(text)
    if long_match:
        count = min(int(long_match.group(1) or long_match.group(2)), MAX_LONG_TOKENS)
        thought = f"The user wants a long reply of {count} tokens: varied Markdown with prose, lists, code and tables."
        # Tokens past the budget would be cut anyway; don't write them.
        return thought, longform.long_markdown(count, seed=variant, limit=req.budget)
    if text.lower().strip(" ?!.") in ("help", "/help", "commands", "what can you do"):
        thought = "The user wants the magic phrases. A table and the list of faults will do."
        return thought, replies.help_text(req.config)
    if _GREETING_RE.search(text):
        return "The user is greeting me. A friendly hello and a few things to try.", replies.hello(req.model, variant)
    if _SHOWCASE_RE.search(text):
        return "The user wants to see Markdown. I'll use every construct once.", replies.SHOWCASE
    expression = arithmetic_expression(text)
    value = evaluate(expression) if expression else None
    if value is not None:
        return f"Simple arithmetic: I can work out {expression} myself.", f"{expression} = **{value}**"
    needs = _NEEDS_TOOL_RE.search(text)
    if needs:
        intent = "weather" if "weather" in needs.group(1).lower() or "forecast" in needs.group(1).lower() else "time"
        offered = tool_names(req.tools)
        thought = "This needs a tool, and none of the offered ones fits." if offered else "This needs a tool."
        return thought, replies.needs_tool(intent, offered)
    snippet = replies.snippet_of(text)
    thought = f"The user said “{snippet}”. I have no real answer, so I'll reply with a well-formed template."
    return thought, replies.fallback(snippet, req.model, variant)


def _last_user_media(req: ChatRequest) -> list[MediaItem]:
    for message, items in zip(reversed(req.messages), reversed(req.media), strict=True):
        if message.get("role") == "user":
            return items
    return []


_NOUNS = {"image": ("image", "images"), "audio": ("audio clip", "audio clips"), "video": ("video", "videos")}


def describe_media(items: list[MediaItem]) -> str:
    """One sentence per kind: `I received 2 images: image/png, 1234 bytes; image/jpeg, 5678 bytes.`"""
    sentences = []
    for kind in ("image", "audio", "video"):
        of_kind = [i for i in items if i.kind == kind]
        if not of_kind:
            continue
        noun = _NOUNS[kind][0 if len(of_kind) == 1 else 1]
        details = "; ".join(
            f"{i.mime}, {i.size} bytes" if i.url is None else f"{i.url} (a remote URL, not fetched)" for i in of_kind
        )
        sentences.append(f"I received {len(of_kind)} {noun}: {details}.")
    return " ".join(sentences)


def _tool_thought(text: str, calls: list[Call]) -> str:
    thoughts = [f"The user asks: “{replies.snippet_of(text)}”." if text else "There is no question."]
    for call in calls:
        if call.why == "named":
            thoughts.append(f"The request names the {call.name} tool, so I'll call it with {call.arguments}.")
        elif call.why == "required":
            thoughts.append(f"I must call a tool and none fits, so I'll call {call.name} with {call.arguments}.")
        else:
            what = "that" if call.clause == text.strip() else f"“{call.clause}”"
            thoughts.append(f"The {call.name} tool can answer {what}, so I'll call it with {call.arguments}.")
    return " ".join(thoughts)


def _tool_preface(calls: list[Call], req: ChatRequest) -> str:
    if req.tool_mode != "auto":
        return ""
    names = sorted({c.name for c in calls})
    listed = " and ".join(f"`{n}`" for n in names)
    if tool_rounds(req.messages):
        return f"Next, {listed}.\n"
    return f"Let me check that with {listed}.\n"


def _tool_answer(messages: list[dict[str, Any]]) -> str:
    """The final answer after tool results: each result of this turn (every round of a
    chain) quoted under the call it answers."""
    results: list[dict[str, Any]] = []
    for message in reversed(messages):
        if message.get("role") == "user":
            break
        if message.get("role") == "tool":
            results.insert(0, message)
    names: dict[str, tuple[str, str]] = {}
    for message in messages:
        for call in message.get("tool_calls") or []:
            if isinstance(call, dict) and isinstance(call.get("function"), dict):
                fn = call["function"]
                names[str(call.get("id"))] = (str(fn.get("name")), str(fn.get("arguments") or ""))
    lines = ["Here is what the tool" + ("s" if len(results) > 1 else "") + " returned:", ""]
    for result in results:
        name, args = names.get(str(result.get("tool_call_id")), ("a tool", ""))
        output = message_text(result.get("content")).strip() or "(no output)"
        called = f"**{name}**" + (f" with `{args}`" if args and len(args) <= 80 else "")
        if "\n" in output or len(output) > 100:
            lines += [f"- {called}:", "", "```", output, "```", ""]
        else:
            lines.append(f"- {called}: `{output}`")
    lines += ["", "That is the answer, straight from the tool output."]
    return "\n".join(lines).replace("\n\n\n", "\n\n")


def _constrained_output(req: ChatRequest, text: str, variant: int) -> Reply | None:
    """The reply a structured-output constraint pins down, parsed as vLLM's parsers would read
    it (a constraint that writes `<think>` or `<tool_call>` text gets reasoning or calls).
    A named tool call wins over a grammar; the `unconstrained` fault ignores the constraint."""
    fault = req.fault.kind if req.fault is not None else None
    unusable = req.engine_error is not None  # the engine refuses the request before any token
    if req.constraint is None or req.tool_mode == "named" or fault == "unconstrained" or unusable:
        return None
    output = constraints.satisfying_text(req.constraint, text, variant)
    if fault == "ramble" and req.constraint.kind in ("json", "json_object"):
        # A weak model under a JSON grammar writes whitespace, which the grammar allows,
        # until max_tokens cuts it (capture round2/01).
        output = output[:1] + "\n        " * (req.budget + 1) + output[1:]
    reply = _parse_model_output(output, req)
    if req.thinking and reply.reasoning is None:
        thought = _effort_scaled(req, f"The answer has to match the requested {req.constraint.kind} format.")
        return Reply("\n\n" + reply.content, f"\n{thought}\n", reply.calls, reply.forced_tools)
    return reply


def _effort_scaled(req: ChatRequest, thought: str) -> str:
    """Reasoning as long as `reasoning_effort` asks: one sentence for minimal/low, a few more
    considerations for high and above."""
    effort = req.fields.reasoning_effort
    if effort in ("minimal", "low"):
        return re.split(r"(?<=[.!?])\s", thought, maxsplit=1)[0]
    extra = {"high": 2, "xhigh": 4, "max": 6}.get(effort or "", 0)
    if extra:
        checks = [f"Check {k + 1}: {sentence}" for k, sentence in enumerate(longform.reasoning_lines(extra))]
        thought = " ".join([thought, *checks])
    return thought


def _parse_model_output(text: str, req: ChatRequest) -> Reply:
    """Split raw model output as vLLM's parsers would: `<think>…</think>` into reasoning (with a
    reasoning parser), `<tool_call>{…}</tool_call>` into tool calls (with auto tool choice)."""
    reasoning = None
    if req.reasoning_parser and text.startswith("<think>"):
        inner, closed, rest = text[len("<think>"):].partition("</think>")
        reasoning, text = inner, rest if closed else ""
    calls: list[Call] = []
    if req.tool_mode == "auto" and "<tool_call>" in text:
        head = text[: text.index("<tool_call>")]
        for raw in _TOOL_CALL_RE.findall(text):
            try:
                parsed = json.loads(raw)
            except ValueError:
                continue
            if isinstance(parsed, dict) and isinstance(parsed.get("name"), str):
                args = json.dumps(parsed.get("arguments", {}), ensure_ascii=False)
                calls.append(Call(parsed["name"], args, "matched", ""))
        if calls:
            text = head
    return Reply(text, reasoning, tuple(calls), False)
