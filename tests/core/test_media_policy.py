"""Leaving media out after the server refused them: which offer follows which refusal, what
an accepted offer sends in every later request, and that an offer is never made twice."""

from __future__ import annotations

import pytest

from vllm_chat.core.attachments import (
    MediaPolicy,
    count_media,
    offer_for,
    still_refused,
)
from vllm_chat.core.conversation import Attachment, Conversation, Message
from vllm_chat.core.errors import ChatError

NOT_MULTIMODAL = ChatError("not_multimodal", "sim-chat can't see images, video or audio.",
                           details={"server_message": "sim-chat is not a multimodal model"})


def too_many(kind: str, limit: int) -> ChatError:
    """The refusal as the client reports vLLM's "At most N kind(s) ..."."""
    return ChatError("too_many_media", f"The server accepts at most {limit} {kind}(s) per request.",
                     details={"limit": limit, "modality": kind})


def web(kind: str, name: str) -> Attachment:
    return Attachment(kind=kind, name=name, url=f"https://example.com/{name}")


def conversation(model: str = "sim-vision") -> Conversation:
    """Two user turns, each with two images, a video and an audio clip (web addresses)."""
    conv = Conversation(model=model)
    for turn in (1, 2):
        conv.add(Message(role="user", content=f"turn {turn}", attachments=[
            web("image", f"a{turn}.png"), web("image", f"b{turn}.png"),
            web("video", f"v{turn}.mp4"), web("audio", f"s{turn}.wav")]))
        conv.add(Message(role="assistant", content="ok"))
    conv.messages.pop()
    return conv


def test_a_text_only_model_is_offered_no_media_at_all() -> None:
    conv = conversation("sim-chat")
    offer = offer_for(NOT_MULTIMODAL, conv, None, recent_images=4)
    assert offer is not None and offer.question.endswith("Send without the attachments?")
    assert offer.policy == MediaPolicy(conv.id, "sim-chat", drop_all=True)
    messages = offer.policy.request_messages(conv)
    assert count_media(messages) == {"image": 0, "video": 0, "audio": 0}
    assert "[image omitted: a1.png]" in messages[0]["content"]


@pytest.mark.parametrize(("server_limit", "setting", "offered"), [(1, 4, 1), (6, 4, 4), (3, 3, 3)])
def test_the_image_offer_is_the_smaller_of_the_servers_limit_and_the_setting(
        server_limit: int, setting: int, offered: int) -> None:
    conv = conversation()
    offer = offer_for(too_many("image", server_limit), conv, None, recent_images=setting)
    assert offer is not None
    noun = "image" if offered == 1 else "images"
    assert offer.question.endswith(f"Send only the {offered} most recent {noun}?")
    assert offer.policy.keep_recent == {"image": offered}
    assert count_media(offer.policy.request_messages(conv))["image"] == offered


@pytest.mark.parametrize(("kind", "noun"), [("video", "video"), ("audio", "audio clip")])
def test_a_video_or_audio_limit_offers_the_newest_of_that_kind_and_keeps_every_image(kind: str, noun: str) -> None:
    conv = conversation()
    offer = offer_for(too_many(kind, 1), conv, None, recent_images=4)
    assert offer is not None and offer.question.endswith(f"Send only the 1 most recent {noun}?")
    messages = offer.policy.request_messages(conv)
    assert count_media(messages) == {"image": 4, "video": 2, "audio": 2} | {kind: 1}
    assert f"[earlier {kind} not sent:" in str(messages[0]["content"])


def test_a_limit_of_zero_offers_to_send_without_that_kind() -> None:
    conv = conversation()
    offer = offer_for(too_many("video", 0), conv, None, recent_images=4)
    assert offer is not None and offer.question.endswith("Send without the videos?")
    assert count_media(offer.policy.request_messages(conv)) == {"image": 4, "video": 0, "audio": 2}
    assert offer.policy.hint == "videos left out"


def test_the_limit_is_read_from_the_servers_words_when_the_details_lack_it() -> None:
    error = ChatError("too_many_media", "Too many.", details={
        "server_message": "You set image=2 (or defaulted to 1) in `--limit-mm-per-prompt`, "
                          "but passed 4 image items in the same prompt."})
    offer = offer_for(error, conversation(), None, recent_images=4)
    assert offer is not None and offer.policy.keep_recent == {"image": 2}


def test_a_refusal_without_details_falls_back_to_the_setting_for_images() -> None:
    offer = offer_for(ChatError("too_many_media", "Too many."), conversation(), None, recent_images=3)
    assert offer is not None and offer.policy.keep_recent == {"image": 3}


def test_an_offer_already_in_force_is_not_made_again() -> None:
    conv = conversation()
    in_force = offer_for(too_many("image", 1), conv, None, recent_images=4)
    assert in_force is not None
    assert offer_for(too_many("image", 1), conv, in_force.policy, recent_images=4) is None
    assert offer_for(too_many("image", 2), conv, in_force.policy, recent_images=4) is None
    dropped = MediaPolicy(conv.id, conv.model, drop_all=True)
    assert offer_for(NOT_MULTIMODAL, conv, dropped, recent_images=4) is None
    assert offer_for(too_many("image", 1), conv, dropped, recent_images=4) is None


def test_a_stricter_or_second_limit_adds_to_the_policy_in_force() -> None:
    conv = conversation()
    two_images = MediaPolicy(conv.id, conv.model, keep_recent={"image": 2})
    stricter = offer_for(too_many("image", 1), conv, two_images, recent_images=4)
    assert stricter is not None and stricter.policy.keep_recent == {"image": 1}
    second = offer_for(too_many("audio", 1), conv, two_images, recent_images=4)
    assert second is not None and second.policy.keep_recent == {"image": 2, "audio": 1}
    assert count_media(second.policy.request_messages(conv)) == {"image": 2, "video": 2, "audio": 1}
    assert second.policy.hint == "older images and audio clips left out"
    text_only = offer_for(NOT_MULTIMODAL, conv, two_images, recent_images=4)
    assert text_only is not None and text_only.policy.drop_all


def test_a_policy_holds_only_for_its_conversation_and_model() -> None:
    conv = conversation()
    policy = MediaPolicy(conv.id, conv.model, keep_recent={"image": 1})
    assert policy.applies_to(conv)
    conv.model = "other-model"
    assert not policy.applies_to(conv)
    assert not policy.applies_to(conversation())
    other = offer_for(too_many("image", 1), conversation(), policy, recent_images=4)
    assert other is not None, "a choice made in another conversation does not count"


def test_the_user_is_told_what_is_left_out_and_until_when() -> None:
    dropped = MediaPolicy("c", "sim-chat", drop_all=True)
    assert dropped.hint == "attachments left out"
    assert "while sim-chat is in use" in dropped.notice and "switching the model" in dropped.notice
    newest = MediaPolicy("c", "sim-vision", keep_recent={"image": 1, "video": 0})
    assert newest.hint == "older images and videos left out"
    assert newest.notice.startswith("Requests carry only the newest 1 image and no videos;")


def test_a_refusal_the_offer_could_not_fix_says_what_to_do_instead() -> None:
    message = still_refused(too_many("image", 1))
    assert "did not help" in message and "at most 1 image" in message and "--limit-mm-per-prompt" in message
    assert "vision model" in still_refused(NOT_MULTIMODAL)
