#!/usr/bin/env bash
# Validates every event the test suite's scripted day wrote (target/feed-events/*.jsonl,
# `tests/api/feed_day.rs`) against its type's JSON Schema (docs/events/<type>.json), with
# the `jsonschema` package from PyPI in a venv under target/. Fails on an event that does
# not validate, a type without a schema, or a schema no event exercised.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/jsonschema-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import jsonschema' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'jsonschema[format-nongpl]>=4.20,<5'
fi
"$venv/bin/python" - <<'PY'
import glob, json, sys
from jsonschema import Draft202012Validator

schemas = {}
for path in glob.glob("docs/events/*.json"):
    schema = json.load(open(path))
    Draft202012Validator.check_schema(schema)
    schemas[schema["title"]] = Draft202012Validator(
        schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
files = glob.glob("target/feed-events/*.jsonl")
if not files:
    sys.exit("no events in target/feed-events: run the test suite first (feed_day)")
seen, bad = set(), 0
for path in files:
    for n, line in enumerate(open(path), 1):
        if not line.strip():
            continue
        event = json.loads(line)
        validator = schemas.get(event.get("type"))
        if validator is None:
            print(f"{path}:{n}: no schema for type {event.get('type')!r}")
            bad += 1
            continue
        for error in validator.iter_errors(event):
            print(f"{path}:{n}: {event['type']}: {error.json_path}: {error.message}")
            bad += 1
        seen.add(event["type"])
missing = sorted(set(schemas) - seen)
if missing:
    print(f"schemas no event exercised: {missing}")
    bad += 1
print(f"{sum(1 for f in files for l in open(f) if l.strip())} events in {len(files)} files, "
      f"{len(seen)} types: {'ok' if not bad else f'{bad} problems'}")
sys.exit(1 if bad else 0)
PY
