"""Benchmark: memory of the attach picker's previews of huge pictures.

Not a test. Run:

    /work/venv/bin/python bench/bench_preview_memory.py [--side 12000] [--count 4]

Makes `count` PNGs (and as many JPEGs) of `side`×`side` pixels in a temporary
folder, then previews each as the attach picker does (`attach.look_at`, in
thread workers as the picker runs it), and reports the process's resident
memory before, at its peak (`ru_maxrss`) and after. The peak must stay far
below what decoding one such picture whole takes (side² × 4 bytes: 576 MB at
12000), and what is kept afterwards near the start.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def rss_mb() -> float:
    """The resident set size now, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    """The largest resident set size so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_pictures(folder: Path, side: int, count: int) -> list[Path]:
    """`count` PNGs and `count` JPEGs, `side` pixels square, made a band at a time (the
    benchmark itself must not hold a whole picture)."""
    from PIL import Image

    paths = []
    for i in range(count):
        for ext in ("png", "jpg"):
            image = Image.new("RGB", (side, side), (40 * i % 255, 120, 200))
            path = folder / f"huge-{i}.{ext}"
            image.save(path, quality=70) if ext == "jpg" else image.save(path, optimize=False)
            del image
            paths.append(path)
    return paths


def whole_preview(path: Path, settings: object, cells: tuple[int, int], background: str) -> object:
    """The preview as it was made before the fix: the whole picture decoded, then shrunk."""
    from vllm_chat.core.media.images import upright_image
    from vllm_chat.ui import images
    from vllm_chat.ui.screens.attach import FilePreview

    picture = upright_image(path.read_bytes(), None, path.name)
    return FilePreview(path, f"{path.name} (decoded whole)", "", None,
                       images.display_copy(picture, cells, background))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--side", type=int, default=12000)
    p.add_argument("--count", type=int, default=4)
    p.add_argument("--whole", action="store_true",
                   help="preview as before the fix (decode the whole picture), for comparison")
    p.add_argument("--make", metavar="DIR", help=argparse.SUPPRESS)  # the child that makes the pictures
    args = p.parse_args()
    if args.make:
        make_pictures(Path(args.make), args.side, args.count)
        return 0
    from vllm_chat.core.config import AttachmentSettings
    from vllm_chat.ui import images
    from vllm_chat.ui.screens.attach import look_at

    with tempfile.TemporaryDirectory() as tmp:
        # Made in another process, so this one's peak is the previews' alone.
        import subprocess

        subprocess.run([sys.executable, __file__, "--make", tmp, "--side", str(args.side),
                        "--count", str(args.count)], check=True)
        paths = sorted(Path(tmp).iterdir())
        import gc

        gc.collect()
        time.sleep(0.5)
        images.cell_size()  # (headless: the default cell size)
        before = rss_mb()
        start_peak = peak_mb()
        settings = AttachmentSettings(max_file_mb=1000)
        preview = whole_preview if args.whole else look_at
        with ThreadPoolExecutor(4) as pool:
            previews = list(pool.map(lambda path: preview(path, settings, (38, 18), "#000000"), paths))
        gc.collect()
        after = rss_mb()
        peak = peak_mb()
        for preview in previews:
            shown = f"{preview.image.size[0]}×{preview.image.size[1]} thumbnail" if preview.image else "no thumbnail"
            print(f"  {preview.path.name}: {preview.about}; {preview.note or '-'}; {shown}")
        whole = args.side * args.side * 4 / 1024 / 1024
        print(f"RSS before {before:.0f} MB, peak {max(peak, start_peak):.0f} MB (peak before the previews "
              f"{start_peak:.0f} MB), after {after:.0f} MB; one picture decoded whole would be {whole:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
