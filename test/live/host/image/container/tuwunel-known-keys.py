#!/usr/bin/python3
# Build-time helper of the Tuwunel stand-in: turns the release's example
# configuration (every key commented out) into the key list the stand-in checks
# unknown keys against.   Usage: tuwunel-known-keys.py EXAMPLE.toml > keys.json
#
# The file's shape (see tuwunel-example.toml):
#   [global]                     the one uncommented header
#   #[global.tls]                a documented section; <ID>, <LANG> and
#   #[[global.appservice.<ID>]]  <a|b|c> stand for names the operator picks
#   #key = value                 a documented key of the current section
#   #       [global.proxy]       an indented example in prose; its indented
#   #       url = "..."          keys document a section that has no header
# Prose lines are never keys: a key line has no space after the '#'.
import json
import re
import sys

SECTION = re.compile(r"^#?\[\[?([A-Za-z0-9_.<>|]+)\]\]?\s*$")
KEY = re.compile(r"^#([a-z][a-z0-9_]*)\s*=")
EXAMPLE_SECTION = re.compile(r"^#\s+\[\[?(global[A-Za-z0-9_.<>|]*)\]\]?\s*$")
EXAMPLE_KEY = re.compile(r"^#\s+([a-z][a-z0-9_]*)\s*=")


def parse(lines):
    sections = {}
    current = None
    example = None
    for line in lines:
        line = line.rstrip("\n")
        match = SECTION.match(line)
        if match and not line.startswith("# "):
            current = match.group(1)
            sections.setdefault(current, set())
            example = None
            continue
        match = EXAMPLE_SECTION.match(line)
        if match:
            example = match.group(1)
            sections.setdefault(example, set())
            continue
        match = EXAMPLE_KEY.match(line)
        if match and example:
            sections[example].add(match.group(1))
            continue
        # Any other line ends an indented example.
        example = None
        match = KEY.match(line)
        if match and current:
            sections[current].add(match.group(1))
    return {name: sorted(keys) for name, keys in sorted(sections.items())}


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        sections = parse(f)
    if len(sections.get("global", [])) < 100:
        sys.exit(f"{sys.argv[1]}: found only {len(sections.get('global', []))} keys under [global]; is this Tuwunel's example config?")
    json.dump({"source": "tuwunel-example.toml (Tuwunel 1.9.0)", "sections": sections}, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
