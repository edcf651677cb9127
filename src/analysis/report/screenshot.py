"""Look at a report as a reader would: headless Chromium renders a page to a PNG at desktop
or phone width, with the network cut off (``unshare -n`` where the system allows it), so a
page that needed an outside host would show it.

Chromium finds fonts through fontconfig, which does not know the Noto Sans CJK font that
comes with the package (the ``noto-cjk-sans-otc`` wheel): :func:`fonts_conf` writes a
configuration that adds its folder to the system's, or Chinese renders as empty boxes.

Debian's ``chromium-headless-shell`` package is enough (``make test`` installs it where it
can); :func:`chromium` finds it or another Chromium, or returns None.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

#: Window widths, in CSS pixels: a desktop screen and a phone.
WIDTHS = {"desktop": 1100, "phone": 400}
_BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")


def chromium() -> str | None:
    """The path of a headless Chromium, or None."""
    return next((p for p in map(shutil.which, _BROWSERS) if p), None)


def fonts_conf(folder: Path) -> Path:
    """A fontconfig file in ``folder`` that includes the system's and adds the packaged
    Noto Sans CJK font's folder."""
    try:
        import noto_cjk_sans_otc

        font_dir = Path(noto_cjk_sans_otc.FONT_PATH).parent
        extra = f"<dir>{font_dir}</dir>"
    except ImportError:
        extra = ""
    path = Path(folder) / "fonts.conf"
    path.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        f'<include ignore_missing="yes">/etc/fonts/fonts.conf</include>{extra}</fontconfig>',
        encoding="utf-8",
    )
    return path


def _offline() -> list[str]:
    """``unshare -n`` if this process may open a network namespace (no network inside)."""
    if not shutil.which("unshare"):
        return []
    ok = subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0
    return ["unshare", "-n"] if ok else []


def screenshot(html: Path, png: Path, width: int = WIDTHS["desktop"], height: int = 2400) -> dict:
    """Render ``html`` to ``png`` at ``width`` × ``height`` CSS pixels.

    Returns
    -------
    dict
        ``png`` (the file), ``offline`` (whether the network was cut off) and ``browser``.

    Raises
    ------
    FileNotFoundError
        No headless Chromium is installed (Debian: ``apt-get install
        chromium-headless-shell``).
    RuntimeError
        Chromium did not write the image (its message is included).
    """
    exe = chromium()
    if exe is None:
        raise FileNotFoundError(
            "no headless Chromium: install Debian's chromium-headless-shell "
            "(apt-get install chromium-headless-shell) to look at the reports"
        )
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "FONTCONFIG_FILE": str(fonts_conf(Path(tmp))), "HOME": tmp}
        offline = _offline()
        cmd = [
            *offline, exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            f"--user-data-dir={tmp}", f"--window-size={width},{height}",
            f"--screenshot={png}", Path(html).resolve().as_uri(),
        ]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    if not png.is_file():
        raise RuntimeError(f"{exe} wrote no image: {done.stderr.strip()[-500:]}")
    return {"png": png, "offline": bool(offline), "browser": exe}
