"""The terminal-graphics probe leaves a tmux pane's title alone.

textual-image asks the terminal about kitty graphics with an APC string; tmux takes
an APC string for a pane title, so the pane was titled with the query's text. Inside
tmux the query is not sent (tmux does not pass kitty graphics through anyway).
"""

from __future__ import annotations

import subprocess


def pane_title(app) -> str:
    # The app's own tmux server (`tmux -L`), where its session lives.
    out = subprocess.run(["tmux", "-f", "/dev/null", "-L", app.socket, "display-message", "-p", "-t", app.session,
                          "#{pane_title}"], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def test_starting_in_tmux_does_not_set_the_pane_title_to_the_probe(run_app, sim_url: str) -> None:
    app = run_app("--base-url", sim_url)
    app.wait_for(r"Message — enter sends")
    title = pane_title(app)
    assert "Gi=" not in title and "a=q" not in title, f"the pane is titled {title!r}"
    app.keys("C-q")
    app.wait_for("__EXITED__ 0")
