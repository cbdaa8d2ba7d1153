#!/bin/sh
# Print the newest Python >= 3.11 that actually runs here (pyenv shims for inactive
# versions exist but fail, so every candidate is probed with -c).
best=""; best_v=0
for c in python3.14 python3.13 python3.12 python3.11 \
         "$HOME"/.pyenv/versions/3.1[1-9]*/bin/python3 /usr/local/bin/python3 /usr/bin/python3 python3; do
  v=$("$c" -c 'import sys, venv, ssl, sqlite3; v=sys.version_info; assert v >= (3, 11); print(v[0]*10000+v[1]*100+v[2])' 2>/dev/null) || continue
  if [ "$v" -gt "$best_v" ]; then best_v=$v; best=$(command -v "$c" 2>/dev/null || echo "$c"); fi
done
[ -n "$best" ] || { echo "no Python >= 3.11 found; install python3.11 or newer" >&2; exit 1; }
echo "$best"
