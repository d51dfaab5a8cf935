"""The wheel we publish: built with the project's own backend, it carries the
package, both commands, and the shipped themes inside the package (where an
installed app looks for them)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_THEMES = {"vllm-night.toml", "vllm-day.toml", "vllm-contrast.toml", "vllm-ember.toml"}


def test_the_wheel_ships_the_package_its_commands_and_the_themes(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO_ROOT), "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = tmp_path.glob("vllm_chat-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    themes = {Path(n).name for n in names if n.startswith("vllm_chat/themes/") and n.endswith(".toml")}
    assert SHIPPED_THEMES <= themes
    assert {"vllm_chat/cli.py", "vllm_chat/ui/app.tcss", "vllm_chat/simserver/cli.py"} <= names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "vllm-chat = vllm_chat.cli:main" in text and "vllm-chat-sim = vllm_chat.simserver.cli:main" in text
    assert not any(n.startswith("tests/") for n in names), "tests stay out of the wheel"
