"""What a file is, decided from its first bytes ("magic numbers"), never from its name.

A PNG named `photo.jpg` is a PNG, and a text file named `cat.png` is not an
image. `sniff_mime` knows the image, video and audio formats vLLM can load;
`what_it_looks_like` names a few common other things, so a refusal can say
"it looks like a PDF document" instead of just "no".
"""

from __future__ import annotations

import struct

from vllm_chat.core.conversation import AttachmentKind

SNIFF_BYTES = 4096
"""How many leading bytes `sniff_mime` needs to decide (it also works on fewer)."""

EXTENSION_FOR_MIME: dict[str, str] = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/bmp": "bmp",
    "image/tiff": "tiff",
    "image/heic": "heic",
    "image/avif": "avif",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/3gpp": "3gp",
    "video/webm": "webm",
    "video/x-matroska": "mkv",
    "video/x-msvideo": "avi",
    "video/ogg": "ogv",
    "audio/wav": "wav",
    "audio/mpeg": "mp3",
    "audio/flac": "flac",
    "audio/ogg": "ogg",
    "audio/mp4": "m4a",
    "audio/aac": "aac",
    "audio/aiff": "aiff",
}
"""The file extension used in the media folder for each MIME type we recognise."""

FORMAT_NAME: dict[str, str] = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WebP",
    "image/bmp": "BMP",
    "image/tiff": "TIFF",
    "image/heic": "HEIC",
    "image/avif": "AVIF",
}
"""Short names of image formats, for messages."""

KIND_FOR_EXTENSION: dict[str, AttachmentKind] = {
    **dict.fromkeys(
        ("png", "jpg", "jpeg", "jpe", "gif", "webp", "bmp", "tif", "tiff", "heic", "heif", "avif"),
        "image",
    ),
    **dict.fromkeys(
        ("mp4", "m4v", "mov", "qt", "webm", "mkv", "avi", "3gp", "3g2", "ogv"), "video"
    ),
    **dict.fromkeys(
        ("wav", "mp3", "flac", "ogg", "oga", "opus", "m4a", "aac", "aif", "aiff"), "audio"
    ),
}
"""What a URL most likely points at, by the extension of its path (URLs are not fetched)."""

SUPPORTED_FORMATS = (
    "a PNG, JPEG, GIF, WebP, BMP or TIFF image, an MP4, MOV, WebM, MKV or AVI video, "
    "or a WAV, MP3, FLAC, OGG, M4A or AAC audio file"
)
"""The formats we accept, as a phrase for messages."""

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
_M4A_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}
_QUICKTIME_BRANDS = {b"qt  "}
_MP4_BRANDS = {
    b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"iso7", b"iso8", b"iso9",
    b"mp41", b"mp42", b"mp71", b"avc1", b"dash", b"M4V ", b"M4VH", b"M4VP", b"mmp4",
    b"f4v ", b"F4V ", b"XAVC", b"MSNV", b"NDAS", b"NDSC", b"NDSH", b"NDSM", b"NDSP", b"NDSS",
}
# BMP's second header starts with its own size; only these sizes exist, which
# keeps any text that happens to start with "BM" from passing as a bitmap.
_BMP_DIB_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}


def kind_of_mime(mime: str | None) -> AttachmentKind | None:
    """`image`, `video` or `audio` for a MIME type of that family, else None."""
    if not mime:
        return None
    family = mime.split("/", 1)[0].strip().lower()
    if family in ("image", "video", "audio"):
        return family  # type: ignore[return-value]  # one of the three, checked just above
    return None


def sniff_mime(data: bytes) -> str | None:
    """The MIME type of an image, video or audio file from its first bytes, or None.

    Recognises PNG, JPEG, GIF, WebP, BMP, TIFF, HEIC and AVIF images; MP4,
    MOV, 3GP, WebM, MKV, AVI and Ogg (Theora) video; WAV, MP3, FLAC, Ogg,
    M4A, AAC (ADTS) and AIFF audio. Anything else (text, PDF, archives...)
    is None. The first `SNIFF_BYTES` bytes are enough.
    """
    head = data[:SNIFF_BYTES]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return "image/tiff"
    if head.startswith(b"BM") and len(head) >= 18:
        if struct.unpack_from("<I", head, 14)[0] in _BMP_DIB_SIZES:
            return "image/bmp"
    if head.startswith(b"RIFF") and len(head) >= 12:
        return {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}.get(
            head[8:12]
        )
    if head[4:8] == b"ftyp":
        return _iso_media(head)
    if head[4:8] in (b"moov", b"mdat", b"wide"):
        return "video/quicktime"  # QuickTime files from before the ftyp box existed
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if head.startswith(b"OggS"):
        return "video/ogg" if b"\x80theora" in head[:128] else "audio/ogg"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"FORM") and head[8:12] in (b"AIFF", b"AIFC"):
        return "audio/aiff"
    if head.startswith(b"ID3"):
        return _after_id3(data)
    return _mpeg_audio_frame(head)


def _iso_media(head: bytes) -> str | None:
    """MP4-family files (`....ftyp<brand>`): the major brand decides, else a compatible one."""
    (box_size,) = struct.unpack_from(">I", head, 0)
    major = head[8:12]
    compatible = [head[i : i + 4] for i in range(16, min(box_size, len(head)) - 3, 4)]
    for brand in [major, *compatible]:
        if brand in _HEIF_BRANDS:
            return "image/heic"
        if brand in _AVIF_BRANDS:
            return "image/avif"
        if brand in _M4A_BRANDS:
            return "audio/mp4"
        if brand in _QUICKTIME_BRANDS:
            return "video/quicktime"
        if brand.startswith((b"3gp", b"3g2")):
            return "video/3gpp"
        if brand in _MP4_BRANDS:
            return "video/mp4"
    return None


def _after_id3(data: bytes) -> str:
    """An ID3 tag usually precedes MP3 frames, but AAC and FLAC files carry one too."""
    if len(data) >= 10:
        # The tag size is "syncsafe": four 7-bit bytes.
        size = (data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]
        rest = data[10 + size : 10 + size + SNIFF_BYTES]
        if rest.startswith(b"fLaC"):
            return "audio/flac"
        if _mpeg_audio_frame(rest) == "audio/aac":
            return "audio/aac"
    return "audio/mpeg"


def _mpeg_audio_frame(head: bytes) -> str | None:
    """A bare MPEG audio frame header: MP3 (layers I-III) or AAC in ADTS framing."""
    if len(head) < 4 or head[0] != 0xFF or (head[1] & 0xE0) != 0xE0:
        return None
    if (head[1] & 0xF6) == 0xF0:
        # ADTS: a 12-bit sync word and layer bits 00; 13+ is a reserved sample rate.
        return "audio/aac" if ((head[2] >> 2) & 0x0F) < 13 else None
    version = (head[1] >> 3) & 0x03
    layer = (head[1] >> 1) & 0x03
    bitrate = head[2] >> 4
    sample_rate = (head[2] >> 2) & 0x03
    if version == 1 or layer == 0 or bitrate == 0x0F or sample_rate == 0x03:
        return None
    return "audio/mpeg"


def what_it_looks_like(data: bytes) -> str:
    """A few words on what a file we can't use seems to be ("a PDF document", "text")."""
    head = data[:SNIFF_BYTES]
    if not head:
        return "an empty file"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive (or an Office document)"
    if head.startswith(b"\x1f\x8b"):
        return "gzip-compressed data"
    if head.startswith(b"\x7fELF"):
        return "a program"
    if b"\x00" not in head and _is_utf8_prefix(head):
        lowered = head.lstrip().lower()
        if lowered.startswith(b"<svg") or (lowered.startswith(b"<?xml") and b"<svg" in lowered):
            return "an SVG drawing (convert it to PNG first)"
        return "text"
    return "data of an unknown kind"


def _is_utf8_prefix(head: bytes) -> bool:
    """True if `head` is UTF-8 text, allowing a character cut off at the end."""
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3 and exc.reason == "unexpected end of data"
    return True
