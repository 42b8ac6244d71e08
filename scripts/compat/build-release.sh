#!/usr/bin/env bash
# Builds the switchboard binary of a released tag (e.g. v0.1.0) and copies it to <out>.
# It builds from the tag when this checkout has it, and otherwise from the release's source
# archive kept with its fixtures (tests/compat/<tag>/source.tar.gz, written by
# scripts/compat-fixtures.sh): CI's clean checkout of main carries no tags.
# It builds in a scratch tree but in this checkout's target directory: releases share
# their dependencies' builds with the current tree, so only the crate itself compiles.
# The current tree's binary is rebuilt afterwards (a no-op link), since both write
# target/debug/switchboard.
#
#     scripts/compat/build-release.sh v0.1.0 /tmp/switchboard-v0.1.0
set -euo pipefail
tag=$1
out=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
work=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$work/tree" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
archive=$root/tests/compat/$tag/source.tar.gz
if git -C "$root" rev-parse -q --verify "refs/tags/$tag^{commit}" >/dev/null 2>&1; then
  git -C "$root" worktree add --detach "$work/tree" "$tag" >/dev/null
elif [ -f "$archive" ]; then
  mkdir "$work/tree"
  tar -xzf "$archive" -C "$work/tree"
else
  echo "no tag $tag in $root and no $archive" >&2
  exit 1
fi
(cd "$work/tree" && CARGO_TARGET_DIR=$target cargo build --locked --quiet --bin switchboard)
cp "$target/debug/switchboard" "$out"
(cd "$root" && CARGO_TARGET_DIR=$target cargo build --quiet --bin switchboard)
echo "$tag -> $out"
