"""Pillow work on images: make sure they decode, stand upright and are not too large.

vLLM loads an image with Pillow and does not apply the EXIF orientation, so a
phone photo stored sideways reaches the model sideways. Before sending we
therefore turn the pixels upright (and drop the orientation tag, which would
now be wrong), and downscale anything longer than the configured side. An
image that needs neither is sent byte for byte as it is.

Pillow is imported inside the functions: importing it costs start-up time.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vllm_chat.core.media.errors import AttachmentError
from vllm_chat.core.media.sniff import FORMAT_NAME

if TYPE_CHECKING:
    from PIL import Image

JPEG_QUALITY = 90
"""Quality for re-encoded JPEG and WebP images (high enough that nobody sees a loss)."""

_ORIENTATION_TAG = 0x0112
_NEEDS_TURN = range(2, 9)

# Servers' Pillow builds often lack HEIC (and older ones AVIF), so these are
# always re-encoded to PNG or JPEG, which every server reads.
_PORTABLE_REENCODE = {"image/heic", "image/avif"}

_PIL_FORMAT = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
    "image/bmp": "BMP",
    "image/tiff": "TIFF",
}


@dataclass(frozen=True)
class PreparedImage:
    """The bytes of an image as it will be sent, with its format and size."""

    data: bytes
    """The encoded image: the original bytes, or a re-encoded copy."""
    mime: str
    """Its MIME type (the original one unless HEIC/AVIF had to be converted)."""
    width: int
    """Pixel width, upright."""
    height: int
    """Pixel height, upright."""


def prepare_image(data: bytes, mime: str, name: str, max_side: int) -> PreparedImage:
    """Decode the image, turn it upright if its EXIF says so, downscale it to `max_side`.

    Raises `AttachmentError` if Pillow can't decode it. Returns the original
    bytes untouched when nothing needs changing.
    """
    image, full_size = _decode(data, mime, name, max_side)
    orientation = image.getexif().get(_ORIENTATION_TAG)
    needs_turn = orientation in _NEEDS_TURN
    needs_shrink = max(full_size) > max_side
    if not (needs_turn or needs_shrink or mime in _PORTABLE_REENCODE):
        return PreparedImage(data, mime, image.width, image.height)

    from PIL import ImageOps

    result = ImageOps.exif_transpose(image) if needs_turn else image
    if needs_shrink:
        result = _shrink(result, max_side)
    target = mime
    if mime in _PORTABLE_REENCODE:
        target = "image/png" if _has_alpha(result) else "image/jpeg"
    try:
        encoded = _encode(result, image, target)
    # As with decoding, Pillow's encoders fail in many ways on unusual images.
    except Exception as exc:  # noqa: BLE001
        raise AttachmentError(
            f"{name} could not be re-encoded as {FORMAT_NAME[target]} ({exc}). "
            "Convert it to PNG or JPEG and attach it again."
        ) from None
    return PreparedImage(encoded, target, result.width, result.height)


PREVIEW_MAX_PIXELS = 16_000_000
"""Most pixels a preview decodes (64 MB as RGBA); a bigger picture is described, not decoded."""


class PreviewTooLarge(AttachmentError):
    """The picture has too many pixels to decode just for a preview (it can still be sent)."""


def preview_image(data: bytes, mime: str | None, name: str,
                  box: tuple[int, int]) -> tuple[Image.Image, tuple[int, int]]:
    """A decoded picture for a preview of about `box` pixels, upright, and the file's own size.

    Decoding is bounded: a JPEG decodes at a reduced scale near `box` (draft mode); any
    picture still over `PREVIEW_MAX_PIXELS` raises `PreviewTooLarge` before its pixels are
    decoded (a 12000x12000 PNG would take 576 MB)."""
    from PIL import ImageOps

    image, full_size = _decode(data, mime, name, max(1, *box), max_pixels=PREVIEW_MAX_PIXELS)
    if image.getexif().get(_ORIENTATION_TAG) in _NEEDS_TURN:
        image = ImageOps.exif_transpose(image)
    return image, full_size


def decode_image(data: bytes, mime: str | None, name: str) -> Image.Image:
    """Open and fully decode an image, or raise `AttachmentError` saying why not."""
    return _decode(data, mime, name, None)[0]


def _quiet_bomb_warnings() -> None:
    """Silence Pillow's warning for large but legal images (90-180 Mpx) for the whole process:
    printed to stderr it would scribble over the TUI. Not `warnings.catch_warnings()` around
    each decode: that swaps process-wide state and races when previews decode in threads
    (one thread's exit put the filter back while another was decoding). Too-large images
    still raise `DecompressionBombError`, and previews have their own bound."""
    from PIL import Image

    if not any(f[0] == "ignore" and f[2] is Image.DecompressionBombWarning for f in warnings.filters):
        warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


def _decode(
    data: bytes, mime: str | None, name: str, max_side: int | None, *, max_pixels: int | None = None
) -> tuple[Image.Image, tuple[int, int]]:
    """The decoded image and its full size in pixels.

    With `max_side`, a JPEG much larger than that may be decoded at a reduced
    scale (never below `max_side`), which is several times faster; the size
    returned is still the file's own.
    """
    from PIL import Image, UnidentifiedImageError

    if mime == "image/heic":
        _register_heif_if_available()
    _quiet_bomb_warnings()
    try:
        image = Image.open(io.BytesIO(data))
        full_size = image.size
        # MPO is the multi-picture JPEG many phones write; it decodes like JPEG.
        is_jpeg = image.format in ("JPEG", "MPO")
        if max_side is not None and is_jpeg and max(image.size) > max_side:
            scale = max_side / max(image.size)
            image.draft(image.mode, (round(image.width * scale), round(image.height * scale)))
        if max_pixels is not None and image.width * image.height > max_pixels:
            raise PreviewTooLarge(
                f"{full_size[0]}×{full_size[1]} pixels: too many to decode for a preview "
                "(it is downscaled when sent)")
        image.load()
    except PreviewTooLarge:
        raise
    except Image.DecompressionBombError:
        raise AttachmentError(
            f"{name} has too many pixels to be processed safely. "
            "Scale it down in an image editor first."
        ) from None
    except UnidentifiedImageError:
        if mime in ("image/heic", "image/avif"):
            raise AttachmentError(
                f"{name} is {_a_format(mime)} image, which this installation can't read. "
                "Convert it to JPEG or PNG first"
                + (" (or install pillow-heif)." if mime == "image/heic" else ".")
            ) from None
        raise AttachmentError(_corrupt(name, mime, "Pillow does not recognise it")) from None
    # Pillow's decoders raise many different exceptions (OSError, SyntaxError,
    # ValueError, struct.error...) for truncated or garbled data.
    except Exception as exc:  # noqa: BLE001
        raise AttachmentError(_corrupt(name, mime, str(exc) or type(exc).__name__)) from None
    return image, full_size


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from an image's header (nothing decoded), or None if unreadable."""
    from PIL import Image

    _quiet_bomb_warnings()
    try:
        with Image.open(io.BytesIO(data)) as image:
            size: tuple[int, int] = image.size
            return size
    except Exception:  # noqa: BLE001 - any failure just means "size unknown"
        return None


def upright_image(data: bytes, mime: str | None, name: str) -> Image.Image:
    """A decoded image with its EXIF orientation applied, for showing a thumbnail."""
    from PIL import ImageOps

    image = decode_image(data, mime, name)
    if image.getexif().get(_ORIENTATION_TAG) in _NEEDS_TURN:
        return ImageOps.exif_transpose(image)
    return image


def _a_format(mime: str | None) -> str:
    """Article and format for messages: `a PNG`, `an AVIF`, or just `an` if unknown."""
    label = FORMAT_NAME.get(mime or "")
    if label is None:
        return "an"
    return f"{'an' if label[0] in 'AEIOU' else 'a'} {label}"


def _corrupt(name: str, mime: str | None, reason: str) -> str:
    return (
        f"{name} looks like {_a_format(mime)} image but can't be decoded ({reason}). "
        "The file may be truncated or corrupt: open and re-save it, or attach another file."
    )


def _register_heif_if_available() -> None:
    """Let Pillow read HEIC photos when the optional pillow-heif plugin is installed."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return
    register_heif_opener()


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        image.mode == "P" and "transparency" in image.info
    )


def _shrink(image: Image.Image, max_side: int) -> Image.Image:
    """Scale so the longer side is `max_side`, keeping the aspect ratio and any alpha."""
    from PIL import Image

    scale = max_side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    # Palette and 1-bit images would be resized with nearest-neighbour only;
    # converting first gives a smooth result (and keeps transparency as alpha).
    if image.mode == "P":
        image = image.convert("RGBA" if _has_alpha(image) else "RGB")
    elif image.mode == "1":
        image = image.convert("L")
    try:
        return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    except ValueError:
        # Unusual modes (16-bit, float) that this Pillow can't resample.
        image = image.convert("RGBA" if _has_alpha(image) else "RGB")
        return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _encode(image: Image.Image, original: Image.Image, mime: str) -> bytes:
    """Save `image` as `mime`, carrying over the colour profile and EXIF minus orientation."""
    fmt = _PIL_FORMAT[mime]
    params: dict[str, Any] = {}
    # A TIFF's "EXIF" is its own directory (strip offsets, sizes...), which
    # must not be copied onto a new file; its orientation is simply not written.
    if fmt in ("JPEG", "PNG", "WEBP"):
        exif = original.getexif()
        if _ORIENTATION_TAG in exif:
            del exif[_ORIENTATION_TAG]
        if len(exif):
            params["exif"] = exif.tobytes()
    if fmt in ("JPEG", "PNG", "WEBP", "TIFF"):
        icc = original.info.get("icc_profile")
        if icc:
            params["icc_profile"] = icc
    if fmt == "JPEG":
        params["quality"] = JPEG_QUALITY
        if image.mode not in ("L", "RGB", "CMYK"):
            image = image.convert("RGB")
    elif fmt == "PNG":
        params["optimize"] = False
    elif fmt == "WEBP":
        params["quality"] = JPEG_QUALITY
    elif fmt == "BMP" and image.mode not in ("1", "L", "P", "RGB", "RGBA"):
        image = image.convert("RGBA" if _has_alpha(image) else "RGB")
    elif fmt == "TIFF":
        from PIL import features

        if features.check("libtiff"):
            params["compression"] = "tiff_lzw"
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()
