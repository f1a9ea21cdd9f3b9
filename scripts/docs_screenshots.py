"""Copy the browser test's screenshots that the docs show into docs/screenshots/, smaller.

    python -m pytest tests/site/test_browser.py -k scheduled   # writes test-artifacts/*.png
    python scripts/docs_screenshots.py

Each PNG is reduced to a palette of 256 colours (a screenshot of a page has few), which
keeps it a fraction of the size and looks the same.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS, DOCS = ROOT / "test-artifacts", ROOT / "docs" / "screenshots"
NAMES = [f"{page}-{width}.png" for page in ("editor", "admin-posts", "post-with-image")
         for width in ("desktop", "phone")]


def main() -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    for name in NAMES:
        with Image.open(ARTIFACTS / name) as image:
            small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                                                  dither=Image.Dither.NONE)
            small.save(DOCS / name, optimize=True)
        print(f"{name}: {(ARTIFACTS / name).stat().st_size:,} -> {(DOCS / name).stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
