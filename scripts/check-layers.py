#!/usr/bin/env python3
"""Fails when a module of src/ imports from a layer above its own.

The layers, lowest first (README "Architecture"); a module may use only modules of
lower layers, so the import graph between top-level modules has no cycles:

    domain < routing < store < app < {adapters, workers} < http < {startup, commands, configuration, telemetry}

Every `crate::<module>` path counts, in `use` lines (also inside `use crate::{a, b::c}`
groups) and in code.
"""
import pathlib
import re
import sys

LAYERS = [
    {"domain"},
    {"routing"},
    {"store"},
    {"app"},
    {"adapters", "workers"},
    {"http"},
    {"startup", "commands", "configuration", "telemetry", "main", "lib"},
]
TOP = len(LAYERS) - 1
RANK = {module: rank for rank, group in enumerate(LAYERS) for module in group}

PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")
GROUP = re.compile(r"\bcrate::\{([^;]*?)\};", re.S)


def imported(text: str) -> set[str]:
    text = re.sub(r"//[^\n]*", "", text)  # comments (doc comments name paths too)
    found = set(PATH.findall(text))
    for group in GROUP.findall(text):
        depth, item = 0, ""
        for ch in group + ",":
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            if ch == "," and depth == 0:
                name = re.match(r"\s*([a-z_][a-z0-9_]*)", item)
                if name:
                    found.add(name.group(1))
                item = ""
            else:
                item += ch
    return found


def main() -> int:
    src = pathlib.Path(__file__).resolve().parent.parent / "src"
    problems = []
    for path in sorted(src.rglob("*.rs")):
        module = path.relative_to(src).parts[0].removesuffix(".rs")
        if module not in RANK:
            problems.append(f"{path.relative_to(src)}: module `{module}` has no layer")
            continue
        rank = RANK[module]
        for target in sorted(imported(path.read_text())):
            if target == module or target not in RANK:
                continue
            other = RANK[target]
            upward = other > rank
            sideways = other == rank and rank != TOP
            if upward or sideways:
                how = "a higher layer" if upward else "a sibling of the same layer"
                problems.append(
                    f"{path.relative_to(src)}: `{module}` imports `crate::{target}`, {how}"
                )
    for p in problems:
        print(p)
    if problems:
        print(f"layering check failed: {len(problems)} import(s) point the wrong way")
        return 1
    print("layering check passed: every import points down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
