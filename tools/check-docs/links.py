"""Checks that every relative Markdown link in README.md and docs/ resolves inside the
repository: the file or directory exists, and a #fragment names a heading of the Markdown file
it points into (GitHub's anchors). Links to other sites (http:, https:, mailto:) are not
fetched. Exit status 1 and one line per broken link when any is broken.

    python3 tools/check-docs/links.py [ROOT]
"""

import os
import re
import sys
import unicodedata

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", ".."))

FENCE = re.compile(r"^\s*(```|~~~)")
# [text](target) and ![alt](target), not inside inline code; the target up to whitespace or ')'.
INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
# [label]: target
DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")


def markdown_files():
    yield os.path.join(ROOT, "README.md")
    for directory, dirs, files in os.walk(os.path.join(ROOT, "docs")):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(".md"):
                yield os.path.join(directory, name)


def lines_outside_code(path):
    """(line number, text) of the lines outside fenced code blocks, inline code removed."""
    inside = None
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            fence = FENCE.match(line)
            if fence:
                if inside is None:
                    inside = fence.group(1)
                elif fence.group(1) == inside:
                    inside = None
                continue
            if inside is None:
                yield number, re.sub(r"(`+).*?\1", "", line.rstrip("\n"))


def slug(heading):
    """GitHub's anchor for a heading: lower case, markup and punctuation dropped, spaces to '-'."""
    text = re.sub(r"`([^`]*)`", r"\1", heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = text.strip().lower()
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if char in " -_" or category[0] in "LN":
            kept.append(char)
    return "".join(kept).replace(" ", "-")


_anchors = {}


def anchors(path):
    if path not in _anchors:
        found, seen = set(), {}
        for _, line in lines_outside_code(path):
            heading = HEADING.match(line)
            if heading:
                base = slug(heading.group(2))
                count = seen.get(base, 0)
                seen[base] = count + 1
                found.add(base if count == 0 else f"{base}-{count}")
            found.update(HTML_ANCHOR.findall(line))
        # Headings inside code spans were blanked above; read them raw for the anchors.
        with open(path, encoding="utf-8") as f:
            inside = False
            for line in f:
                if FENCE.match(line):
                    inside = not inside
                    continue
                heading = None if inside else HEADING.match(line.rstrip("\n"))
                if heading:
                    found.add(slug(heading.group(2)))
        _anchors[path] = found
    return _anchors[path]


def check(path):
    broken = []
    for number, line in lines_outside_code(path):
        targets = INLINE.findall(line)
        definition = DEFINITION.match(line)
        if definition:
            targets.append(definition.group(1))
        for target in targets:
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
                continue  # another site, or mailto:
            where, _, fragment = target.partition("#")
            resolved = os.path.normpath(os.path.join(os.path.dirname(path), where)) if where else path
            shown = f"{os.path.relpath(path, ROOT)}:{number}: {target}"
            if os.path.commonpath([resolved, ROOT]) != ROOT:
                broken.append(f"{shown}: points outside the repository")
            elif not os.path.exists(resolved):
                broken.append(f"{shown}: no such file")
            elif fragment and resolved.endswith(".md") and fragment not in anchors(resolved):
                broken.append(f"{shown}: no heading #{fragment} in {os.path.relpath(resolved, ROOT)}")
    return broken


def main():
    broken, files = [], 0
    for path in markdown_files():
        files += 1
        broken.extend(check(path))
    for line in broken:
        print(line)
    print(f"links: {files} Markdown files, {len(broken)} broken links")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
