"""Attachments: sniffing, downscaling, orientation, the media store, request parts, bad input.

Every file is made here, in tmp_path, with Pillow or by hand from each
format's documented header bytes; nothing touches the network.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import pytest
from PIL import Image, features

from vllm_chat.core.attachments import (
    AttachmentError,
    PreparedAttachment,
    build_request_messages,
    content_part,
    count_media,
    describe,
    is_not_multimodal_error,
    load_image,
    looks_like_attachment,
    parse_media_limit_error,
    prepare_attachment,
    sniff_mime,
)
from vllm_chat.core.config import AttachmentSettings
from vllm_chat.core.conversation import Attachment, Conversation, Message
from vllm_chat.core.media.store import DATA_URLS, DataUrlCache

ORIENTATION = 0x0112
RED = (255, 0, 0)
GREEN = (0, 255, 0)


# --- hand-made media -------------------------------------------------------


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    """An ISO base media file (MP4/MOV/M4A/HEIF): ftyp box, free box, tiny mdat."""
    body = major + b"\x00\x00\x02\x00" + b"".join(compatible)
    return (
        struct.pack(">I", 8 + len(body)) + b"ftyp" + body
        + struct.pack(">I", 8) + b"free"
        + struct.pack(">I", 16) + b"mdat" + bytes(8)
    )


def ebml(doctype: bytes) -> bytes:
    """A Matroska/WebM file start: EBML header with its DocType, then a Segment id."""
    body = (
        b"\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08"
        + b"\x42\x82" + bytes([0x80 | len(doctype)]) + doctype
        + b"\x42\x87\x81\x04\x42\x85\x81\x02"
    )
    segment = b"\x18\x53\x80\x67\x01" + bytes(64)
    return b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(body)]) + body + segment


def riff(form: bytes) -> bytes:
    """A RIFF container (AVI, WAV, WebP share it) with one empty LIST chunk."""
    return b"RIFF" + struct.pack("<I", 16) + form + b"LIST" + struct.pack("<I", 4) + bytes(4)


def wav_bytes() -> bytes:
    """A real WAV file: 0.01 s of 8 kHz mono silence."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(160))
    return out.getvalue()


MP3_FRAME = b"\xff\xfb\x90\x64" + bytes(413)  # MPEG-1 layer III, 128 kbit/s, 44.1 kHz
ADTS_FRAME = b"\xff\xf1\x50\x80\x02\x1f\xfc" + bytes(64)  # AAC-LC, 44.1 kHz, stereo
HANDMADE_MEDIA: dict[str, tuple[bytes, str]] = {
    "mp4": (ftyp(b"isom", b"isom", b"iso2", b"avc1", b"mp41"), "video/mp4"),
    "mp4-mp42": (ftyp(b"mp42", b"mp42", b"isom"), "video/mp4"),
    "mov": (ftyp(b"qt  ", b"qt  "), "video/quicktime"),
    "mov-legacy": (
        struct.pack(">I", 8) + b"wide" + struct.pack(">I", 16) + b"mdat" + bytes(8),
        "video/quicktime",
    ),
    "3gp": (ftyp(b"3gp4", b"isom", b"3gp4"), "video/3gpp"),
    "webm": (ebml(b"webm"), "video/webm"),
    "mkv": (ebml(b"matroska"), "video/x-matroska"),
    "avi": (riff(b"AVI "), "video/x-msvideo"),
    "ogv": (b"OggS\x00\x02" + bytes(22) + b"\x80theora" + bytes(40), "video/ogg"),
    "wav": (wav_bytes(), "audio/wav"),
    "mp3-id3": (b"ID3\x04\x00\x00\x00\x00\x00\x0a" + bytes(10) + MP3_FRAME, "audio/mpeg"),
    "mp3-frame-sync": (MP3_FRAME, "audio/mpeg"),
    "flac": (b"fLaC\x80\x00\x00\x22" + bytes(34), "audio/flac"),
    "ogg": (b"OggS\x00\x02" + bytes(22) + b"\x01vorbis" + bytes(40), "audio/ogg"),
    "m4a": (ftyp(b"M4A ", b"M4A ", b"mp42", b"isom"), "audio/mp4"),
    "aac": (ADTS_FRAME, "audio/aac"),
    "aac-id3": (b"ID3\x04\x00\x00\x00\x00\x00\x0a" + bytes(10) + ADTS_FRAME, "audio/aac"),
    "aiff": (b"FORM" + struct.pack(">I", 30) + b"AIFFCOMM" + bytes(26), "audio/aiff"),
    "heic": (ftyp(b"heic", b"mif1", b"heic"), "image/heic"),
    "avif": (ftyp(b"avif", b"avif", b"mif1", b"miaf"), "image/avif"),
}


def image_bytes(
    size: tuple[int, int] = (64, 48),
    fmt: str = "PNG",
    mode: str = "RGB",
    color: object = (10, 120, 200),
    **save: object,
) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, format=fmt, **save)
    return out.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def decode_data_url(url: str) -> tuple[str, bytes]:
    header, payload = url.split(",", 1)
    assert header.startswith("data:") and header.endswith(";base64")
    return header[5:-7], base64.b64decode(payload)


@pytest.fixture
def media(tmp_path: Path) -> Path:
    return tmp_path / "media"


@pytest.fixture
def settings() -> AttachmentSettings:
    return AttachmentSettings()


def prepare(
    source: str | Path, media: Path, settings: AttachmentSettings | None = None, **kw: object
) -> PreparedAttachment:
    return prepare_attachment(source, settings or AttachmentSettings(), media_root=media, **kw)


def refused(
    source: str | Path, media: Path, settings: AttachmentSettings | None = None, **kw: object
) -> str:
    """Prepare `source`, expect `AttachmentError`, check nothing was stored, return the message."""
    with pytest.raises(AttachmentError) as info:
        prepare(source, media, settings, **kw)
    assert not media.exists() or not any(media.iterdir())
    return str(info.value)


# --- sniffing ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mime", "save"),
    [
        ("PNG", "image/png", {}),
        ("JPEG", "image/jpeg", {}),
        ("GIF", "image/gif", {}),
        ("WEBP", "image/webp", {}),
        ("BMP", "image/bmp", {}),
        ("TIFF", "image/tiff", {}),
        ("TIFF", "image/tiff", {"big_endian": True}),
    ],
)
def test_sniff_recognises_images_pillow_writes(fmt: str, mime: str, save: dict) -> None:
    assert sniff_mime(image_bytes(fmt=fmt, **save)) == mime


@pytest.mark.parametrize("name", sorted(HANDMADE_MEDIA))
def test_sniff_recognises_video_audio_and_heif_containers(name: str) -> None:
    data, mime = HANDMADE_MEDIA[name]
    assert sniff_mime(data) == mime


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, this is just text\n",
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
        b"PK\x03\x04\x14\x00\x00\x00",
        b"BMW is a car brand, not a bitmap header",
        b"RIFF\x10\x00\x00\x00CDXA",
        ftyp(b"crx ", b"crx "),  # Canon raw photos share the MP4 container
        b"\xff\xff\xff\xff",
        bytes(range(256)),
    ],
)
def test_sniff_says_none_for_anything_else(data: bytes) -> None:
    assert sniff_mime(data) is None


def test_png_named_jpg_is_sent_as_png(tmp_path: Path, media: Path) -> None:
    prepared = prepare(write(tmp_path / "photo.jpg", image_bytes(fmt="PNG")), media)
    assert prepared.attachment.mime == "image/png"
    assert prepared.attachment.ref.endswith(".png")
    assert content_part(prepared.attachment, media_root=media)["image_url"]["url"].startswith(
        "data:image/png;base64,"
    )


def test_text_file_named_png_is_refused(tmp_path: Path, media: Path) -> None:
    message = refused(write(tmp_path / "notes.png", b"shopping list\n- eggs\n"), media)
    assert "notes.png is not an image, video or audio file" in message
    assert "looks like text" in message
    assert "Attach a PNG, JPEG" in message


def test_pdf_named_png_is_refused_and_called_a_pdf(tmp_path: Path, media: Path) -> None:
    message = refused(write(tmp_path / "scan.png", b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n"), media)
    assert "not an image, video or audio file" in message
    assert "PDF document" in message


def test_svg_is_refused_with_a_hint_to_convert(tmp_path: Path, media: Path) -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>'
    message = refused(write(tmp_path / "logo.svg", svg), media)
    assert "SVG drawing" in message and "convert it to PNG" in message


def test_empty_file_is_refused(tmp_path: Path, media: Path) -> None:
    assert "empty.png is empty" in refused(write(tmp_path / "empty.png", b""), media)


# --- images: downscaling, orientation, transparency ------------------------------


def test_large_jpeg_is_downscaled_to_2048_on_the_longest_side(tmp_path: Path, media: Path) -> None:
    source = write(tmp_path / "big.jpg", image_bytes((4000, 3000), "JPEG", quality=80))
    att = prepare(source, media).attachment
    assert (att.width, att.height) == (2048, 1536)
    stored = media / att.ref
    with Image.open(stored) as image:
        assert image.format == "JPEG"
        assert image.size == (2048, 1536)
    assert att.size == stored.stat().st_size
    assert att.mime == "image/jpeg"


def test_jpeg_exactly_twice_the_limit_is_downscaled(tmp_path: Path, media: Path) -> None:
    original = image_bytes((4096, 3072), "JPEG", quality=80)
    prepared = prepare(write(tmp_path / "double.jpg", original), media)
    assert (prepared.attachment.width, prepared.attachment.height) == (2048, 1536)
    assert prepared.path.read_bytes() != original
    with Image.open(prepared.path) as image:
        assert image.size == (2048, 1536)


def test_tall_png_is_downscaled_keeping_its_aspect_ratio(tmp_path: Path, media: Path) -> None:
    att = prepare(write(tmp_path / "tall.png", image_bytes((1000, 3000))), media).attachment
    assert (att.width, att.height) == (683, 2048)
    with Image.open(media / att.ref) as image:
        assert image.format == "PNG" and image.size == (683, 2048)


def test_max_image_side_setting_decides_the_limit(tmp_path: Path, media: Path) -> None:
    source = write(tmp_path / "wide.png", image_bytes((1000, 500)))
    att = prepare(source, media, AttachmentSettings(max_image_side=100)).attachment
    assert (att.width, att.height) == (100, 50)


@pytest.mark.parametrize("size", [(640, 480), (2048, 1000), (2048, 2048)])
def test_images_within_the_limit_are_stored_byte_for_byte(
    tmp_path: Path, media: Path, size: tuple[int, int]
) -> None:
    original = image_bytes(size, "JPEG", quality=70)
    prepared = prepare(write(tmp_path / "ok.jpg", original), media)
    assert prepared.path is not None and prepared.path.read_bytes() == original
    assert (prepared.attachment.width, prepared.attachment.height) == size


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("GIF", "image/gif"), ("WEBP", "image/webp"),
     ("BMP", "image/bmp"), ("TIFF", "image/tiff")],
)
def test_downscaled_images_keep_their_format(
    tmp_path: Path, media: Path, fmt: str, mime: str
) -> None:
    att = prepare(write(tmp_path / "wide.img", image_bytes((3000, 100), fmt)), media).attachment
    assert att.mime == mime
    with Image.open(media / att.ref) as image:
        assert image.format == fmt
        assert image.size == (2048, 68)


def sideways_jpeg(size: tuple[int, int], extra_exif: dict[int, object] | None = None) -> bytes:
    """Pixels stored sideways with EXIF orientation 6 ("rotate 90° clockwise to view").

    Stored as `size` (wide), green, with a red block in the stored bottom-left
    corner, which becomes the top-left corner once the picture is upright.
    """
    width, height = size
    image = Image.new("RGB", size, GREEN)
    block = max(8, width // 10)
    image.paste(RED, (0, height - block, block, height))
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    for tag, value in (extra_exif or {}).items():
        exif[tag] = value
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=95, exif=exif.tobytes())
    return out.getvalue()


def assert_upright(path: Path, size: tuple[int, int]) -> None:
    with Image.open(path) as image:
        assert image.size == size
        assert image.getexif().get(ORIENTATION) is None
        image = image.convert("RGB")
        top_left = image.getpixel((2, 2))
        top_right = image.getpixel((image.width - 3, 2))
        assert top_left[0] > 200 and top_left[1] < 60, top_left
        assert top_right[1] > 200 and top_right[0] < 60, top_right


def test_exif_orientation_is_applied_even_when_no_downscale_is_needed(
    tmp_path: Path, media: Path
) -> None:
    att = prepare(write(tmp_path / "phone.jpg", sideways_jpeg((400, 200))), media).attachment
    assert (att.width, att.height) == (200, 400)
    assert att.mime == "image/jpeg"
    assert_upright(media / att.ref, (200, 400))


def test_exif_orientation_is_applied_before_downscaling(tmp_path: Path, media: Path) -> None:
    att = prepare(write(tmp_path / "phone.jpg", sideways_jpeg((4000, 3000))), media).attachment
    assert (att.width, att.height) == (1536, 2048)
    assert_upright(media / att.ref, (1536, 2048))


def test_other_exif_tags_survive_the_orientation_fix(tmp_path: Path, media: Path) -> None:
    data = sideways_jpeg((400, 200), {0x010F: "TestCam"})  # Make
    att = prepare(write(tmp_path / "phone.jpg", data), media).attachment
    with Image.open(media / att.ref) as image:
        exif = image.getexif()
        assert exif.get(0x010F) == "TestCam"
        assert exif.get(ORIENTATION) is None


def test_upright_orientation_tag_alone_changes_nothing(tmp_path: Path, media: Path) -> None:
    exif = Image.Exif()
    exif[ORIENTATION] = 1
    original = image_bytes((300, 200), "JPEG", exif=exif.tobytes())
    prepared = prepare(write(tmp_path / "fine.jpg", original), media)
    assert prepared.path.read_bytes() == original


def test_png_transparency_survives_downscaling(tmp_path: Path, media: Path) -> None:
    image = Image.new("RGBA", (3000, 1000), (255, 0, 0, 0))
    image.paste((0, 0, 255, 255), (1500, 0, 3000, 1000))
    out = io.BytesIO()
    image.save(out, format="PNG")
    att = prepare(write(tmp_path / "alpha.png", out.getvalue()), media).attachment
    with Image.open(media / att.ref) as stored:
        assert stored.format == "PNG" and stored.mode == "RGBA"
        assert stored.getpixel((10, 10))[3] == 0
        assert stored.getpixel((stored.width - 10, 10)) == (0, 0, 255, 255)


def test_palette_transparency_survives_downscaling(tmp_path: Path, media: Path) -> None:
    image = Image.new("P", (3000, 100), 0)
    image.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    image.paste(1, (1500, 0, 3000, 100))
    out = io.BytesIO()
    image.save(out, format="PNG", transparency=0)
    att = prepare(write(tmp_path / "palette.png", out.getvalue()), media).attachment
    with Image.open(media / att.ref) as stored:
        rgba = stored.convert("RGBA")
        assert rgba.getpixel((10, 10))[3] == 0
        assert rgba.getpixel((rgba.width - 10, 10)) == (255, 255, 255, 255)


def test_truncated_png_is_refused_as_corrupt(tmp_path: Path, media: Path) -> None:
    data = image_bytes((500, 500), "PNG", mode="RGB", color=None)
    message = refused(write(tmp_path / "cut.png", data[: len(data) // 2]), media)
    assert "cut.png looks like a PNG image but can't be decoded" in message
    assert "truncated or corrupt" in message


def test_garbled_jpeg_is_refused_as_corrupt(tmp_path: Path, media: Path) -> None:
    data = b"\xff\xd8\xff\xe0" + os.urandom(64) + b"garbage" * 50
    message = refused(write(tmp_path / "bad.jpg", data), media)
    assert "looks like a JPEG image but can't be decoded" in message


def test_heic_that_pillow_cannot_open_is_refused_with_advice(tmp_path: Path, media: Path) -> None:
    message = refused(write(tmp_path / "IMG_0001.HEIC", HANDMADE_MEDIA["heic"][0]), media)
    assert "HEIC image" in message and "can't read" in message
    assert "Convert it to JPEG or PNG" in message


@pytest.mark.skipif(not features.check("avif"), reason="this Pillow has no AVIF support")
def test_avif_is_converted_to_a_format_every_server_reads(tmp_path: Path, media: Path) -> None:
    att = prepare(write(tmp_path / "photo.avif", image_bytes((64, 48), "AVIF")), media).attachment
    assert att.mime == "image/jpeg"
    with Image.open(media / att.ref) as stored:
        assert stored.format == "JPEG" and stored.size == (64, 48)


# --- video and audio -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind", "part_type"),
    [("mp4", "video", "video_url"), ("webm", "video", "video_url"), ("wav", "audio", "audio_url"),
     ("mp3-id3", "audio", "audio_url"), ("m4a", "audio", "audio_url")],
)
def test_video_and_audio_are_stored_unchanged_and_sent_as_vllm_parts(
    tmp_path: Path, media: Path, name: str, kind: str, part_type: str
) -> None:
    data, mime = HANDMADE_MEDIA[name]
    att = prepare(write(tmp_path / f"clip.{name}", data), media).attachment
    assert (att.kind, att.mime, att.size, att.width) == (kind, mime, len(data), None)
    assert (media / att.ref).read_bytes() == data
    part = content_part(att, media_root=media)
    assert list(part) == ["type", part_type] and part["type"] == part_type
    assert decode_data_url(part[part_type]["url"]) == (mime, data)


# --- data URLs, URLs and the cache -----------------------------------------------------------


def test_data_url_of_a_stored_image_decodes_to_the_stored_file(tmp_path: Path, media: Path) -> None:
    prepared = prepare(write(tmp_path / "cat.png", image_bytes()), media)
    part = content_part(prepared.attachment, media_root=media)
    assert part["type"] == "image_url"
    assert decode_data_url(part["image_url"]["url"]) == ("image/png", prepared.path.read_bytes())


def test_data_url_encoding_is_reused_for_the_same_ref(tmp_path: Path, media: Path) -> None:
    att = prepare(write(tmp_path / "cat.png", image_bytes()), media).attachment
    first = content_part(att, media_root=media)["image_url"]["url"]
    second = content_part(att, media_root=media)["image_url"]["url"]
    assert second is first


def test_data_url_cache_stays_within_its_budget() -> None:
    cache = DataUrlCache(max_chars=100)
    cache.put("a", "x" * 40)
    cache.put("b", "y" * 40)
    assert cache.get("a") is not None  # "a" is now the most recently used
    cache.put("c", "z" * 40)
    assert "b" not in cache and "a" in cache and "c" in cache
    assert cache.total_chars == 80
    cache.put("huge", "h" * 101)
    assert "huge" not in cache and cache.total_chars <= 100


def test_the_shared_cache_is_bounded() -> None:
    assert 0 < DATA_URLS.max_chars <= 256 * 1024 * 1024


@pytest.mark.parametrize(
    ("url", "kind", "name"),
    [
        ("https://example.com/pics/cat.png", "image", "cat.png"),
        ("http://example.com/a/b/My%20Dog.JPG?size=large#x", "image", "My Dog.JPG"),
        ("https://example.com/clips/intro.mp4", "video", "intro.mp4"),
        ("https://example.com/sound/bell.mp3", "audio", "bell.mp3"),
        ("https://example.com/render?id=7", "image", "render"),
        ("https://example.com/", "image", "example.com"),
    ],
)
def test_http_urls_are_passed_through_unchanged(
    media: Path, url: str, kind: str, name: str
) -> None:
    prepared = prepare(url, media)
    att = prepared.attachment
    assert (att.kind, att.name, att.url, att.ref, prepared.path) == (kind, name, url, None, None)
    part_type = f"{kind}_url"
    assert content_part(att) == {"type": part_type, part_type: {"url": url}}
    assert not media.exists()


def test_http_url_kind_can_be_given_when_the_extension_says_nothing(media: Path) -> None:
    att = prepare("https://example.com/stream?id=1", media, kind="audio").attachment
    assert att.kind == "audio"
    assert content_part(att)["type"] == "audio_url"


def test_data_urls_are_decoded_and_stored_like_files(media: Path) -> None:
    png = image_bytes((30, 20))
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    prepared = prepare(url, media)
    att = prepared.attachment
    assert (att.kind, att.name, att.mime, att.size) == ("image", "pasted-image.png", "image/png", len(png))
    assert (att.width, att.height) == (30, 20)
    assert att.url is None and prepared.path == media / att.ref
    assert prepared.path.read_bytes() == png
    assert content_part(att, media_root=media) == {"type": "image_url", "image_url": {"url": url}}
    audio_url = "data:audio/wav;base64," + base64.b64encode(wav_bytes()).decode()
    audio = prepare(audio_url, media).attachment
    assert (audio.kind, audio.name, audio.url) == ("audio", "pasted-audio.wav", None)
    assert content_part(audio, media_root=media)["audio_url"]["url"] == audio_url


def test_a_pasted_image_is_downscaled_and_turned_upright_like_a_file(media: Path) -> None:
    big = "data:image/jpeg;base64," + base64.b64encode(image_bytes((4096, 1024), "JPEG")).decode()
    assert (prepare(big, media).attachment.width, prepare(big, media).attachment.height) == (2048, 512)
    sideways = "data:image/jpeg;base64," + base64.b64encode(sideways_jpeg((400, 200))).decode()
    att = prepare(sideways, media).attachment
    assert (att.width, att.height) == (200, 400)
    with Image.open(media / att.ref) as stored:
        assert stored.size == (200, 400)


def test_a_pasted_corrupt_image_is_refused_and_nothing_stored(media: Path) -> None:
    broken = image_bytes((64, 64))[:60]
    message = refused("data:image/png;base64," + base64.b64encode(broken).decode(), media)
    assert message.startswith("The pasted image looks like a PNG image but can't be decoded")


# --- the request: recent images only, or no media --------------------------------------------


def conversation_with_media(tmp_path: Path, media: Path) -> Conversation:
    """Three user turns: [a.png], [b.png, clip.mp4], [c.png, d.png, e.png]."""

    def att(name: str, data: bytes) -> Attachment:
        return prepare(write(tmp_path / name, data), media).attachment

    conv = Conversation(system_prompt="Be brief.")
    first = [att("a.png", image_bytes(color=(1, 0, 0)))]
    second = [att("b.png", image_bytes(color=(2, 0, 0))), att("clip.mp4", HANDMADE_MEDIA["mp4"][0])]
    third = [att(f"{n}.png", image_bytes(color=(i, 0, 0))) for i, n in enumerate("cde", 3)]
    conv.add(Message(role="user", content="first", attachments=first))
    conv.add(Message(role="assistant", content="ok 1"))
    conv.add(Message(role="user", content="second", attachments=second))
    conv.add(Message(role="assistant", content="ok 2"))
    conv.add(Message(role="user", content="third", attachments=third))
    return conv


def summary(messages: list[dict]) -> list[object]:
    """Each message's content with data URLs shortened to their part type."""
    out: list[object] = []
    for m in messages:
        content = m["content"]
        if isinstance(content, list):
            content = [p["text"] if p["type"] == "text" else p["type"] for p in content]
        out.append(content)
    return out


def test_all_media_are_sent_by_default(tmp_path: Path, media: Path) -> None:
    messages = build_request_messages(conversation_with_media(tmp_path, media), media_root=media)
    assert messages[0] == {"role": "system", "content": "Be brief."}
    assert summary(messages)[1:] == [
        ["first", "image_url"],
        "ok 1",
        ["second", "image_url", "video_url"],
        "ok 2",
        ["third", "image_url", "image_url", "image_url"],
    ]
    assert count_media(messages) == {"image": 5, "video": 1, "audio": 0}


def test_only_the_most_recent_images_are_sent(tmp_path: Path, media: Path) -> None:
    conv = conversation_with_media(tmp_path, media)
    messages = build_request_messages(conv, max_recent={"image": 2}, media_root=media)
    assert summary(messages)[1:] == [
        "first\n[earlier image not sent: a.png]",
        "ok 1",
        ["second", "[earlier image not sent: b.png]", "video_url"],
        "ok 2",
        ["third", "[earlier image not sent: c.png]", "image_url", "image_url"],
    ]
    assert count_media(messages) == {"image": 2, "video": 1, "audio": 0}
    sent = [p["image_url"]["url"] for p in messages[-1]["content"] if p["type"] == "image_url"]
    newest = conv.messages[-1].attachments[1:]
    assert sent == [content_part(a, media_root=media)["image_url"]["url"] for a in newest]


def test_recent_images_shortcut_limits_images_only(tmp_path: Path, media: Path) -> None:
    conv = conversation_with_media(tmp_path, media)
    shortcut = build_request_messages(conv, max_recent_images=2, media_root=media)
    assert shortcut == build_request_messages(conv, max_recent={"image": 2}, media_root=media)
    assert count_media(shortcut) == {"image": 2, "video": 1, "audio": 0}


def test_a_limit_of_zero_sends_no_media_of_that_kind(tmp_path: Path, media: Path) -> None:
    conv = conversation_with_media(tmp_path, media)
    messages = build_request_messages(conv, max_recent={"image": 0, "video": 0}, media_root=media)
    assert count_media(messages) == {"image": 0, "video": 0, "audio": 0}
    assert messages[3]["content"] == (
        "second\n[earlier image not sent: b.png]\n[earlier video not sent: clip.mp4]"
    )


def test_drop_media_replaces_every_item_with_a_note(tmp_path: Path, media: Path) -> None:
    conv = conversation_with_media(tmp_path, media)
    messages = build_request_messages(conv, drop_media=True, media_root=media)
    assert summary(messages)[1:] == [
        "first\n[image omitted: a.png]",
        "ok 1",
        "second\n[image omitted: b.png]\n[video omitted: clip.mp4]",
        "ok 2",
        "third\n[image omitted: c.png]\n[image omitted: d.png]\n[image omitted: e.png]",
    ]
    assert count_media(messages) == {"image": 0, "video": 0, "audio": 0}


def test_media_left_out_are_not_read_from_disk(tmp_path: Path, media: Path) -> None:
    conv = conversation_with_media(tmp_path, media)
    (media / conv.messages[0].attachments[0].ref).unlink()
    messages = build_request_messages(conv, max_recent={"image": 4}, media_root=media)
    assert messages[1]["content"] == "first\n[earlier image not sent: a.png]"
    with pytest.raises(AttachmentError, match="a.png is no longer in the media folder"):
        build_request_messages(conv, media_root=media)


def test_count_media_knows_every_part_type() -> None:
    messages = [
        {"role": "system", "content": "x"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "hi"},
                {"type": "image_url", "image_url": {"url": "https://e.com/a.png"}},
                {"type": "input_image", "image_url": "https://e.com/b.png"},
                {"type": "video_url", "video_url": {"url": "https://e.com/c.mp4"}},
                {"type": "audio_url", "audio_url": {"url": "https://e.com/d.wav"}},
                {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
                "a bare string part",
            ],
        },
    ]
    assert count_media(messages) == {"image": 2, "video": 1, "audio": 2}
    assert count_media([]) == {"image": 0, "video": 0, "audio": 0}


# --- the server's multimodal errors -------------------------------------------------------------


def test_not_multimodal_error_is_recognised() -> None:
    assert is_not_multimodal_error("tiny-llama is not a multimodal model")
    assert is_not_multimodal_error("Error code: 400 - Qwen/Qwen3-8B is not a multimodal model")
    assert not is_not_multimodal_error("At most 4 image(s) may be provided in one prompt.")
    assert not is_not_multimodal_error("")


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "At most 4 image(s) may be provided in one prompt. Set `--limit-mm-per-prompt` "
            "to increase this limit. (parameter=image)",
            ("image", 4),
        ),
        ("At most 1 video(s) may be provided in one prompt. (parameter=video)", ("video", 1)),
        ("At most 0 image(s) may be provided in one prompt.", ("image", 0)),
        ("At most 1 image(s) may be provided in one request.", ("image", 1)),
        (
            "You set image=2 (or defaulted to 1) in `--limit-mm-per-prompt`, but passed 3 image "
            "items in the same prompt.",
            ("image", 2),
        ),
        (
            "You set or defaulted to '{\"audio\": 1}' in `--limit-mm-per-prompt`, but passed 2 "
            "audio items in the same prompt.",
            ("audio", 1),
        ),
        ("tiny-llama is not a multimodal model", None),
        ("This model's maximum context length is 4096 tokens.", None),
    ],
)
def test_media_limit_errors_are_parsed(message: str, expected: tuple[str, int] | None) -> None:
    assert parse_media_limit_error(message) == expected


# --- limits --------------------------------------------------------------------------------


def test_file_exactly_at_the_size_limit_is_accepted_and_one_byte_over_refused(
    tmp_path: Path, media: Path
) -> None:
    tiny_limit = AttachmentSettings(max_file_mb=1 / 1024)  # 1024 bytes
    header = HANDMADE_MEDIA["mp4"][0]
    at_limit = write(tmp_path / "at.mp4", header + bytes(1024 - len(header)))
    assert prepare(at_limit, media, tiny_limit).attachment.size == 1024
    shutil.rmtree(media)
    over = write(tmp_path / "over.mp4", header + bytes(1025 - len(header)))
    message = refused(over, media, tiny_limit)
    assert "over.mp4 is 1,025 bytes, over the 0.000976562 MB (1,024 bytes) limit" in message
    assert "attachments.max_file_mb" in message


def test_large_file_message_names_size_and_limit(tmp_path: Path, media: Path) -> None:
    header = HANDMADE_MEDIA["wav"][0]
    path = write(tmp_path / "long.wav", header + bytes(3 * 1024 * 1024))
    message = refused(path, media, AttachmentSettings(max_file_mb=2))
    assert message.startswith("long.wav is 3.0 MB, over the 2 MB limit for attachments.")
    just_over = write(tmp_path / "just.wav", header + bytes(2 * 1024 * 1024 - len(header) + 1))
    assert refused(just_over, media, AttachmentSettings(max_file_mb=2)).startswith(
        "just.wav is 2,097,153 bytes, over the 2 MB (2,097,152 bytes) limit for attachments."
    )


def test_data_url_over_the_size_limit_is_refused(media: Path) -> None:
    url = "data:audio/wav;base64," + base64.b64encode(wav_bytes() + bytes(2048)).decode()
    message = refused(url, media, AttachmentSettings(max_file_mb=1 / 1024))
    assert "over the" in message and "limit" in message


# --- bad input ---------------------------------------------------------------------------------


def test_missing_file_is_refused(tmp_path: Path, media: Path) -> None:
    message = refused(str(tmp_path / "nope.png"), media)
    assert message.startswith(f"No such file: {tmp_path / 'nope.png'}.")
    assert "Check the path" in message


def test_folder_is_refused(tmp_path: Path, media: Path) -> None:
    (tmp_path / "pics").mkdir()
    assert "is a folder, not a file" in refused(str(tmp_path / "pics"), media)


def test_named_pipe_is_refused_without_blocking(tmp_path: Path, media: Path) -> None:
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    assert "is not a regular file" in refused(fifo, media)
    assert not looks_like_attachment(str(fifo))


@pytest.fixture
def shared_dir():
    """A folder an unprivileged user can enter (tmp_path's parents are private)."""
    path = Path(tempfile.mkdtemp(prefix="vllm-chat-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def prepare_as_nobody(source: Path, media: Path) -> str:
    """`prepare_attachment` in a forked child running as user `nobody`; its message."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report through the pipe, never return into pytest
        try:
            os.close(read_end)
            os.setgid(65534)
            os.setuid(65534)
            try:
                prepare_attachment(source, AttachmentSettings(), media_root=media)
                message = "no error"
            except AttachmentError as exc:
                message = str(exc)
            except BaseException as exc:  # noqa: BLE001 - reported to the parent
                message = f"unexpected {exc!r}"
            os.write(write_end, message.encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read().decode()
    os.waitpid(pid, 0)
    return message


def test_unreadable_file_is_refused(shared_dir: Path) -> None:
    path = write(shared_dir / "secret.png", image_bytes())
    path.chmod(0o000)
    media = shared_dir / "media"
    if os.geteuid() == 0:
        message = prepare_as_nobody(path, media)
    else:
        message = refused(path, media)
    assert message.startswith(f"Can't read {path}: permission denied.")
    assert "permissions" in message
    assert not media.exists() or not any(media.iterdir())


@pytest.mark.parametrize(
    ("source", "scheme"),
    [
        ("ftp://example.com/cat.png", "ftp"),
        ("javascript:alert(1)", "javascript"),
        ("mailto:someone@example.com", "mailto"),
        ("s3://bucket/cat.png", "s3"),
    ],
)
def test_urls_other_than_http_and_data_are_refused(media: Path, source: str, scheme: str) -> None:
    message = refused(source, media)
    assert (
        f"Only http(s) and data: URLs can be attached; {scheme}: URLs are not supported."
        in message
    )


def test_file_url_for_another_computer_is_refused(media: Path) -> None:
    message = refused("file://fileserver/share/cat.png", media)
    assert "names a file on another computer (fileserver)" in message
    assert "Only http(s) and data: URLs" in message


def test_http_url_without_a_host_is_refused(media: Path) -> None:
    assert "is not a valid web address" in refused("https:///cat.png", media)


def test_nothing_to_attach_is_refused(media: Path) -> None:
    assert refused("  ''  ", media) == "Nothing to attach: give a file path or an http(s) URL."


def test_data_url_that_is_not_base64_is_refused(media: Path) -> None:
    message = refused("data:image/svg+xml,%3Csvg%3E%3C/svg%3E", media)
    assert "not base64-encoded" in message and "501" in message


@pytest.mark.parametrize(
    "url",
    [
        "data:text/plain;base64,aGVsbG8=",
        "data:application/pdf;base64,JVBERi0=",
        "data:;base64,aGVsbG8=",
    ],
)
def test_data_url_with_a_non_media_type_is_refused(media: Path, url: str) -> None:
    assert "not an image, video or audio" in refused(url, media)


def test_data_url_with_broken_base64_is_refused(media: Path) -> None:
    assert "not valid base64" in refused("data:image/png;base64,iVBOR*w0KGgo", media)


def test_data_url_whose_content_contradicts_its_type_is_refused(media: Path) -> None:
    url = "data:image/png;base64," + base64.b64encode(wav_bytes()).decode()
    assert "says it holds image/png, but its content is audio/wav" in refused(url, media)


def test_data_url_without_a_comma_is_refused(media: Path) -> None:
    assert "malformed" in refused("data:image/png;base64", media)


# --- how paths may be written -------------------------------------------------------------


def test_paths_may_be_quoted_relative_or_use_the_home_folder(
    tmp_path: Path, media: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pics").mkdir()
    data = image_bytes()
    write(tmp_path / "pics" / "my cat.png", data)
    monkeypatch.setenv("HOME", str(tmp_path))
    sources = ["'pics/my cat.png'", '"pics/my cat.png"', "  pics/my cat.png\n", "~/pics/my cat.png"]
    for source in sources:
        prepared = prepare(source, media, base_dir=tmp_path)
        assert prepared.path.read_bytes() == data
        assert prepared.attachment.name == "my cat.png"


def test_relative_paths_start_from_the_current_folder_by_default(
    tmp_path: Path, media: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "cat.png", image_bytes())
    monkeypatch.chdir(tmp_path)
    assert prepare("cat.png", media).attachment.name == "cat.png"


def test_backslash_escaped_spaces_are_understood(tmp_path: Path, media: Path) -> None:
    write(tmp_path / "my cat (1).png", image_bytes())
    source = str(tmp_path / "my\\ cat\\ \\(1\\).png")
    assert prepare(source, media).attachment.name == "my cat (1).png"


def test_local_file_urls_are_read_as_paths(tmp_path: Path, media: Path) -> None:
    write(tmp_path / "my cat.png", image_bytes())
    urls = [(tmp_path / "my cat.png").as_uri(), "file://localhost" + str(tmp_path / "my%20cat.png")]
    for url in urls:
        att = prepare(url, media).attachment
        assert att.ref is not None and att.url is None and att.name == "my cat.png"


def test_path_objects_are_accepted(tmp_path: Path, media: Path) -> None:
    path = write(tmp_path / "cat.png", image_bytes())
    assert prepare(Path("cat.png"), media, base_dir=tmp_path).path.read_bytes() == path.read_bytes()


def test_an_existing_file_with_a_colon_in_its_name_is_a_path(tmp_path: Path, media: Path) -> None:
    write(tmp_path / "shot:1.png", image_bytes())
    assert prepare("shot:1.png", media, base_dir=tmp_path).attachment.name == "shot:1.png"


# --- the media store -----------------------------------------------------------------------


def test_same_content_twice_is_stored_once_and_not_rewritten(tmp_path: Path, media: Path) -> None:
    data = image_bytes()
    first = prepare(write(tmp_path / "a.png", data), media)
    before = first.path.stat()
    second = prepare(write(tmp_path / "copy of a.png", data), media)
    assert second.attachment.ref == first.attachment.ref
    assert second.path == first.path
    assert [p.name for p in media.iterdir()] == [first.attachment.ref]
    after = second.path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert second.attachment.name == "copy of a.png"


def test_stored_files_are_named_by_content_hash_and_private(tmp_path: Path, media: Path) -> None:
    import hashlib

    prepared = prepare(write(tmp_path / "a.png", image_bytes()), media)
    data = prepared.path.read_bytes()
    assert prepared.attachment.ref == hashlib.sha256(data).hexdigest() + ".png"
    assert prepared.path.parent == media
    assert prepared.path.stat().st_mode & 0o777 == 0o600
    assert media.stat().st_mode & 0o777 == 0o700


def test_media_folder_defaults_to_the_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VLLM_CHAT_DATA_DIR", str(tmp_path / "data"))
    prepared = prepare_attachment(write(tmp_path / "a.png", image_bytes()), AttachmentSettings())
    assert prepared.path.parent == tmp_path / "data" / "media"
    url = content_part(prepared.attachment)["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")


def test_a_reloaded_session_rebuilds_part_and_thumbnail_after_the_original_moved(
    tmp_path: Path, media: Path
) -> None:
    original = write(tmp_path / "cat.png", image_bytes((64, 48), color=(200, 100, 50)))
    att = prepare(original, media).attachment
    conv = Conversation()
    conv.add(Message(role="user", content="what is this?", attachments=[att]))
    saved = conv.model_dump_json()
    original.unlink()

    reloaded = Conversation.model_validate_json(saved)
    restored = reloaded.messages[0].attachments[0]
    assert restored == att
    part = content_part(restored, media_root=media)
    stored = (media / att.ref).read_bytes()
    assert decode_data_url(part["image_url"]["url"]) == ("image/png", stored)
    thumbnail = load_image(restored, media_root=media)
    assert thumbnail.size == (64, 48)
    assert thumbnail.convert("RGB").getpixel((0, 0)) == (200, 100, 50)


def test_a_session_whose_media_file_was_deleted_gets_a_clear_error(
    tmp_path: Path, media: Path
) -> None:
    att = prepare(write(tmp_path / "cat.png", image_bytes()), media).attachment
    content_part(att, media_root=media)  # cached now
    (media / att.ref).unlink()
    with pytest.raises(AttachmentError) as info:
        content_part(att, media_root=media)
    message = str(info.value)
    assert message.startswith("The image cat.png is no longer in the media folder")
    assert "Remove it from the message, or attach the file again." in message
    with pytest.raises(AttachmentError, match="no longer in the media folder"):
        load_image(att, media_root=media)


@pytest.mark.parametrize(
    "ref", ["../secret.txt", "/etc/passwd", "sub/dir.png", ".hidden.png", ".."]
)
def test_a_ref_that_is_not_a_bare_file_name_is_never_read(
    tmp_path: Path, media: Path, ref: str
) -> None:
    write(tmp_path / "secret.txt", b"password")
    att = Attachment(kind="image", name="x.png", mime="image/png", ref=ref)
    with pytest.raises(AttachmentError, match="not a media-folder file name"):
        content_part(att, media_root=media)


def test_an_attachment_with_neither_ref_nor_url_gets_a_clear_error(media: Path) -> None:
    with pytest.raises(AttachmentError, match="has neither a stored file nor a URL"):
        content_part(Attachment(kind="image", name="ghost.png"), media_root=media)


# --- thumbnails and chips -------------------------------------------------------------------


def test_load_image_gives_an_upright_image_from_an_inline_data_url_of_an_older_session() -> None:
    url = "data:image/jpeg;base64," + base64.b64encode(sideways_jpeg((400, 200))).decode()
    image = load_image(Attachment(kind="image", name="old.jpg", mime="image/jpeg", url=url))
    assert image.size == (200, 400)


def test_load_image_refuses_video_and_web_addresses(media: Path) -> None:
    with pytest.raises(AttachmentError, match="not an image"):
        load_image(Attachment(kind="video", name="clip.mp4", url="https://e.com/clip.mp4"))
    with pytest.raises(AttachmentError, match="does not download it"):
        load_image(Attachment(kind="image", name="cat.png", url="https://e.com/cat.png"))


def test_describe_makes_chip_text() -> None:
    image = Attachment(
        kind="image", name="cat.png", mime="image/png", size=1_258_291,
        width=640, height=480, ref="x",
    )
    assert describe(image) == "cat.png · image · 1.2 MB · 640×480"
    audio = Attachment(kind="audio", name="bell.wav", mime="audio/wav", size=48_000, ref="y")
    assert describe(audio) == "bell.wav · audio · 47 KB"
    video = Attachment(kind="video", name="a.mp4", size=100, ref="z")
    assert describe(video) == "a.mp4 · video · 100 B"
    link = Attachment(kind="image", name="dog.jpg", url="https://e.com/dog.jpg")
    assert describe(link) == "dog.jpg · image · URL"


# --- paste detection -----------------------------------------------------------------------------


def test_looks_like_attachment_accepts_media_paths_and_urls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "my cat.png", image_bytes())
    write(tmp_path / "song", HANDMADE_MEDIA["mp3-id3"][0])
    assert looks_like_attachment(str(tmp_path / "my cat.png"))
    assert looks_like_attachment(f"'{tmp_path / 'my cat.png'}'\n")
    assert looks_like_attachment("my cat.png")
    assert looks_like_attachment("song")
    assert looks_like_attachment((tmp_path / "my cat.png").as_uri())
    assert looks_like_attachment("https://example.com/a/cat.JPG?x=1")
    assert looks_like_attachment("https://example.com/clip.mp4")
    png_url = "data:image/png;base64," + base64.b64encode(image_bytes()).decode()
    assert looks_like_attachment(png_url)


def test_looks_like_attachment_rejects_everything_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "notes.png", b"just text")
    (tmp_path / "pics").mkdir()
    write(tmp_path / "cat.png", image_bytes())
    for text in [
        "",
        "   ",
        "hello there",
        "notes.png",
        "pics",
        "missing.png",
        f"{tmp_path / 'cat.png'}\n{tmp_path / 'cat.png'}",
        "https://example.com/article",
        "ftp://example.com/cat.png",
        "note: remember the milk",
        "data:text/plain;base64,aGk=",
        "x" * 5000,
    ]:
        assert not looks_like_attachment(text), text


# --- start-up cost -------------------------------------------------------------------------------


def test_importing_attachments_does_not_import_pillow() -> None:
    code = (
        "import sys, vllm_chat.core.attachments, vllm_chat.core.media.images; "
        "print('PIL' in sys.modules, 'textual' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]
