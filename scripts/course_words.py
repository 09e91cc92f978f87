"""Words of prose per lesson and module of the shipped course (content/).

Counts the words a resident reads: the HTML of `text` and `callout` blocks with the tags
stripped. Lab introductions, quiz questions and references are not counted, so the figure
is the reading load only. Usage: python scripts/course_words.py [content-dir]
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

PROSE_BLOCKS = ("text", "callout")


def prose_words(body: list[dict]) -> int:
    text = " ".join(block.get("html", "") for block in body if block.get("type") in PROSE_BLOCKS)
    text = re.sub(r"<[^>]+>", " ", text)
    return len(re.findall(r"[\w\u00c0-\u024f][\w\u00c0-\u024f'’.,/()%+-]*", text))


def main(content_dir: Path) -> None:
    total = lessons = 0
    for module_dir in sorted(p for p in content_dir.iterdir() if (p / "module.toml").exists()):
        counts = []
        for path in sorted(module_dir.glob("[0-9]*.toml")):
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            counts.append((path.name, prose_words(data["body"])))
        module_words = sum(words for _name, words in counts)
        print(f"{module_dir.name}: {len(counts)} lessons, {module_words} words")
        for name, words in counts:
            print(f"    {words:5d}  {name}")
        total += module_words
        lessons += len(counts)
    print(f"course: {lessons} lessons, {total} words, mean {total / max(lessons, 1):.0f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parents[1] / "content")
