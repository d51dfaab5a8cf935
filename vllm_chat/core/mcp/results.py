"""An MCP tool result as what the model receives: text, images, and notes for the rest.

Text parts are joined; images become attachments of the tool message (stored
in the media folder like the user's images), each named in the text; audio,
binary resources and resource links are summarised in one line each, since a
chat request can't carry them in a tool message. An `isError` result becomes
a `ToolError`, so it is shown as a failure and sent to the model as one.
"""

from __future__ import annotations

import json
from typing import Any

from vllm_chat.core.config import AttachmentSettings
from vllm_chat.core.conversation import Attachment
from vllm_chat.core.tools.base import ToolError, ToolReply


def _size(data: str) -> str:
    from vllm_chat.core.media.sources import human_size

    return human_size(len(data) * 3 // 4)


def convert_result(result: Any, tool: str, settings: AttachmentSettings) -> ToolReply:
    """The reply for a `CallToolResult` of `tool` (raises `ToolError` for an `isError` one).

    Storing an image reads and writes files: call it in a thread.
    """
    from vllm_chat.core.attachments import AttachmentError, prepare_attachment

    parts: list[str] = []
    images: list[Attachment] = []
    for item in result.content or []:
        kind = getattr(item, "type", None)
        if kind == "text":
            parts.append(item.text)
        elif kind == "image":
            mime = item.mime_type or "image/png"
            try:
                prepared = prepare_attachment(f"data:{mime};base64,{item.data}", settings)
            except AttachmentError as exc:
                parts.append(f"[an image ({mime}) that could not be used: {exc}]")
                continue
            image = prepared.attachment.model_copy(update={"name": f"{tool}-image-{len(images) + 1}"})
            images.append(image)
            shape = f", {image.width}×{image.height}" if image.width and image.height else ""
            parts.append(f"[image {image.name}: {image.mime or mime}{shape}]")
        elif kind == "audio":
            parts.append(f"[audio ({item.mime_type}, {_size(item.data)}) returned; it can't be passed on]")
        elif kind == "resource_link":
            what = f" ({item.mime_type})" if item.mime_type else ""
            parts.append(f"[resource link: {item.name} {item.uri}{what}]")
        elif kind == "resource":
            resource = item.resource
            text = getattr(resource, "text", None)
            if text is not None:
                parts.append(f"[resource {resource.uri}]\n{text}")
            else:
                blob = getattr(resource, "blob", "") or ""
                parts.append(f"[resource {resource.uri} ({resource.mime_type or 'binary'}, {_size(blob)}) "
                             "returned; it can't be passed on]")
        else:
            parts.append(f"[a {kind or 'content'} part this client does not know; left out]")
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    text = "\n".join(parts)
    if result.is_error:
        raise ToolError(text or f"{tool} reported an error without saying what it was")
    return ToolReply(text, tuple(images))
