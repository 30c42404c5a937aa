#!/bin/sh
# Fact-check the articles changed since a git ref; fail when a claim is contested.
#
#   examples/check-changed.sh [BASE]        (BASE: a git ref, default origin/main)
#
# Runs `factcheck check` on every article (.txt, .html, .htm, .md) added or modified under ARTICLES_DIR
# (default: articles) since BASE, on the desk of the current folder (FACTCHECK_DB and the other
# FACTCHECK_* settings apply), and writes one HTML report per article into REPORTS_DIR (default: reports).
# FAIL_ON (default: contested) is passed to --fail-on.
#
# Exit status: 0 nothing to look at, 1 a claim reached FAIL_ON in some article, 2 usage error,
# 3 a check could not complete (network, desk) and none reached FAIL_ON.
set -u

base="${1:-origin/main}"
dir="${ARTICLES_DIR:-articles}"
reports="${REPORTS_DIR:-reports}"
fail_on="${FAIL_ON:-contested}"

changed=$(git diff --name-only --diff-filter=AM "$base" -- "$dir") || exit 2
mkdir -p "$reports" || exit 3
looked=0 incomplete=0 checked=0
# one path per line (names with spaces are fine; names with newlines are not articles)
while IFS= read -r article; do
  case "$article" in
    *.txt|*.html|*.htm|*.md) ;;
    *) continue ;;
  esac
  [ -f "$article" ] || continue
  checked=$((checked + 1))
  name=$(basename "$article")
  echo "== $article"
  factcheck check "$article" --fail-on "$fail_on" -o "$reports/${name%.*}.html"
  rc=$?
  case $rc in
    0) ;;
    1) looked=1 ;;
    2) exit 2 ;;
    *) incomplete=1 ;;
  esac
done <<LIST
$changed
LIST

echo "checked $checked changed article(s) under $dir since $base"
[ "$looked" -eq 1 ] && exit 1
[ "$incomplete" -eq 1 ] && exit 3
exit 0
