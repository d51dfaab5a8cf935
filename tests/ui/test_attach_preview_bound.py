"""The attach picker's preview decodes a picture with a size bound: a big JPEG at a reduced
scale (draft mode), anything still too big not at all (it is described instead), so four
12000x12000 pictures cost megabytes, not gigabytes (measured in bench/bench_preview_memory.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from vllm_chat.core.config import AttachmentSettings
from vllm_chat.core.media import images as media_images
from vllm_chat.core.media.images import PreviewTooLarge, preview_image
from vllm_chat.ui.screens.attach import look_at


def test_a_big_jpeg_decodes_at_a_reduced_scale_for_its_preview(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    Image.new("RGB", (4000, 3000), (10, 120, 200)).save(path, quality=60)
    picture, full = preview_image(path.read_bytes(), "image/jpeg", "big.jpg", (380, 360))
    assert full == (4000, 3000)
    assert picture.size[0] <= 4000 // 4, "decoded at a fraction of its size, never whole"


def test_a_picture_with_too_many_pixels_is_described_not_decoded(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(media_images, "PREVIEW_MAX_PIXELS", 1_000_000)
    path = tmp_path / "huge.png"
    Image.new("RGB", (1500, 1500), (200, 10, 10)).save(path)
    decoded: list[tuple[int, int]] = []
    original_load = Image.Image.load

    def spy(image: Image.Image) -> object:
        decoded.append(image.size)
        return original_load(image)

    monkeypatch.setattr(Image.Image, "load", spy)
    with pytest.raises(PreviewTooLarge):
        preview_image(path.read_bytes(), "image/png", "huge.png", (380, 360))
    assert (1500, 1500) not in decoded, "its pixels were never decoded"
    preview = look_at(path, AttachmentSettings(), (38, 18), "#000000")
    assert preview.image is None and preview.attachment is not None
    assert "1500×1500" in preview.about and "too many to decode for a preview" in preview.note


def test_a_picture_within_the_bound_still_gets_its_thumbnail(tmp_path: Path) -> None:
    path = tmp_path / "ok.png"
    Image.new("RGB", (800, 600), (0, 200, 0)).save(path)
    preview = look_at(path, AttachmentSettings(), (38, 18), "#000000")
    assert preview.image is not None and max(preview.image.size) <= 380
    assert "800×600" in preview.about


PREVIEWS_IN_THREADS = """
import struct, sys, zlib
from concurrent.futures import ThreadPoolExecutor
from vllm_chat.core.media.images import PreviewTooLarge, image_size, preview_image

def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

# A 100-megapixel PNG as far as its header says: enough for Pillow to warn on opening it.
png = (b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 10000, 10000, 8, 0, 0, 0, 0))
       + chunk(b"IEND", b""))

def look(_):
    image_size(png)
    try:
        preview_image(png, "image/png", "big.png", (380, 360))
    except PreviewTooLarge:
        pass

with ThreadPoolExecutor(8) as pool:
    list(pool.map(look, range(64)))
"""


def test_previews_in_threads_write_no_pixel_count_warning_over_the_screen() -> None:
    import subprocess
    import sys

    # A process of its own: pytest would catch the warning, a terminal would show it over the TUI.
    result = subprocess.run([sys.executable, "-c", PREVIEWS_IN_THREADS], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "DecompressionBombWarning" not in result.stderr and result.stderr == ""
