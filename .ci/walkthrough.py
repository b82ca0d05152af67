#!/usr/bin/env python3
"""Runs a walk-through section of the README against a running server and checks every answer it shows.

Usage: walkthrough.py README.md ["## Section heading"] (default: "## Walk-through"). The section runs
to the next "## " heading; its first bash block starts the server and is skipped. In the bash
blocks, a comment right after a command is that command's expected output; a comment after a blank
line is prose. The script runs the blocks in order and compares what they print, line by line, with
the expected lines.
"""
import re
import subprocess
import sys

readme = open(sys.argv[1] if len(sys.argv) > 1 else "README.md", encoding="utf-8").read()
heading = sys.argv[2] if len(sys.argv) > 2 else "## Walk-through"
walkthrough = readme[readme.index(heading + "\n"):]
end = walkthrough.find("\n## ", len(heading))
walkthrough = walkthrough if end < 0 else walkthrough[:end]
blocks = re.findall(r"```bash\n(.*?)```", walkthrough, re.S)[1:]  # the first block starts the server

expected = []
for block in blocks:
    previous_is_code = False
    for line in block.splitlines():
        if line.startswith("# ") and previous_is_code:
            expected.append(line[2:])
            continue
        previous_is_code = bool(line.strip()) and not line.startswith("#")

script = "set -euo pipefail\n" + "\n".join(blocks)
result = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
actual = [line.lstrip("\ufeff") for line in result.stdout.splitlines() if line.strip()]
if result.returncode != 0:
    print(result.stderr, file=sys.stderr)
    sys.exit(f"the walk-through failed with status {result.returncode}")
for index, (want, got) in enumerate(zip(expected, actual)):
    if want != got:
        sys.exit(f"walk-through answer {index + 1} differs:\n  README: {want}\n  server: {got}")
if len(expected) != len(actual):
    sys.exit(f"the README shows {len(expected)} answers, the server gave {len(actual)}")
print(f"walk-through: {len(expected)} answers match the README")
