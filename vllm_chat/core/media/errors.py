"""The exception for attachments that can't be used, phrased for the user."""

from __future__ import annotations


class AttachmentError(Exception):
    """An attachment that can't be sent; the message says what is wrong and what to do.

    Nothing is sent when this is raised: the caller shows the message and
    leaves the prompt as it was.
    """
