"""Moodle's GIFT text format for the question bank: export items and read them back, as plain values.

Numeric items are `{#answer:tolerance}`, multiple choice `{=right ~wrong …}`, algebraic answers are GIFT short
answers `{=answer}`; the worked solution is the general feedback (`####`). What GIFT cannot say (our kind, topic,
difficulty, unit) rides in a `// lessonbook:` comment line that other importers ignore."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

_SPECIAL = "~=#{}:"
MAX_IMPORT_ITEMS = 500


@dataclass
class GiftItem:
    """One question as GIFT carries it."""

    title: str
    prompt: str
    kind: str
    answer: str
    solution: str
    tolerance: float = 0.0
    unit: str = ""
    choices: list[str] = field(default_factory=list)
    topic: str = ""
    difficulty: int = 1


class GiftError(ValueError):
    """The text is not GIFT we can read; the message names the question."""


def escape(text: str) -> str:
    """Text with GIFT's special characters backslash-escaped and newlines kept as \\n."""
    out = "".join("\\" + ch if ch in _SPECIAL or ch == "\\" else ch for ch in text)
    return out.replace("\n", "\\n")


def unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), text.strip())


def export(items: list[GiftItem]) -> str:
    """GIFT text for the items, one blank line between questions."""
    blocks = []
    for item in items:
        meta = f"// lessonbook: kind={item.kind} topic={item.topic} difficulty={item.difficulty} unit={item.unit}"
        if item.kind == "numeric":
            body = f"{{#{item.answer}:{item.tolerance:g}"
        elif item.kind == "choice":
            body = "{" + " ".join(("=" if str(i) == item.answer else "~") + escape(c)
                                  for i, c in enumerate(item.choices))
        else:
            body = f"{{={escape(item.answer)}"
        blocks.append(f"{meta}\n::{escape(item.title)}::{escape(item.prompt)} {body} ####{escape(item.solution)}}}")
    return "\n\n".join(blocks) + "\n"


_META = re.compile(r"^//\s*lessonbook:\s*(.*)$")
_QUESTION = re.compile(r"^(?:::(?P<title>(?:\\.|[^:\\])*)::)?"
                       r"(?P<prompt>(?:\\.|[^{\\])*)\{(?P<body>(?:\\.|[^}\\])*)\}\s*$", re.S)


def parse(text: str) -> list[GiftItem]:
    """The questions in GIFT text (numeric, multiple choice, short answer); GiftError names the first bad one."""
    items: list[GiftItem] = []
    text = text.lstrip("\ufeff")  # a byte-order mark would hide the first question's // lessonbook: line
    for number, block in enumerate(b for b in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if b.strip()):
        meta: dict[str, str] = {}
        lines = []
        for line in block.split("\n"):
            found = _META.match(line.strip())
            if found:
                meta = dict(pair.split("=", 1) for pair in found.group(1).split() if "=" in pair)
            elif not line.strip().startswith("//"):
                lines.append(line)
        match = _QUESTION.match("\n".join(lines).strip())
        if not match:
            raise GiftError(f"Question {number + 1} is not in a GIFT form we read (numeric, multiple choice or short "
                            f"answer).")
        items.append(_item(number + 1, match, meta))
        if len(items) > MAX_IMPORT_ITEMS:
            raise GiftError(f"Import at most {MAX_IMPORT_ITEMS} questions at a time.")
    return items


def _item(number: int, match: re.Match, meta: dict[str, str]) -> GiftItem:
    body = match.group("body")
    solution = ""
    parts = re.split(r"(?<!\\)####", body, maxsplit=1)
    if len(parts) == 2:
        body, solution = parts[0], unescape(parts[1])
    body = body.strip()
    title, prompt = unescape(match.group("title") or ""), unescape(match.group("prompt"))
    try:
        difficulty = min(3, max(1, int(meta.get("difficulty", "1"))))
    except ValueError:
        difficulty = 1
    common = dict(title=title or prompt[:40], prompt=prompt, solution=solution, topic=meta.get("topic", ""),
                  difficulty=difficulty, unit=meta.get("unit", ""))
    if body.startswith("#"):
        value, _, tolerance = body[1:].partition(":")
        try:
            float(value)
            tol = float(tolerance or 0)
        except ValueError:
            raise GiftError(f"Question {number}: the numeric answer “{body[1:]}” is not a number.") from None
        return GiftItem(kind="numeric", answer=value.strip(), tolerance=tol, **common)
    options = re.findall(r"(?<!\\)([=~])((?:\\.|[^=~\\])*)", body)
    if not options:
        raise GiftError(f"Question {number} has no answer.")
    if len(options) == 1 and options[0][0] == "=":
        if meta.get("kind") != "algebra":
            # A GIFT short answer is usually a word ("Paris"), which would read as a product of letters here.
            raise GiftError(f"Question {number} is a short answer: only algebraic ones are marked here; mark one "
                            f"with “// lessonbook: kind=algebra topic=…” on the line above it.")
        return GiftItem(kind="algebra", answer=unescape(options[0][1]), **common)
    rights = [i for i, (mark, _) in enumerate(options) if mark == "="]
    if len(rights) != 1:
        raise GiftError(f"Question {number}: a multiple-choice question needs exactly one right answer.")
    return GiftItem(kind="choice", answer=str(rights[0]), choices=[unescape(t) for _, t in options], **common)
