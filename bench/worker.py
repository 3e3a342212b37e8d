"""Run one scenario in this (fresh) process: ``python -m bench.worker NAME ARGS_JSON OUT_JSON``.

Each measurement runs in a process of its own so CPU seconds and peak RSS are the scenario's
alone and one scenario's threads and memory never disturb the next.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from bench.scenarios import SCENARIOS


def main(argv: list[str]) -> int:
    name, arguments, out = argv
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # the SDK client's shared session
    result = SCENARIOS[name](**json.loads(arguments))
    Path(out).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
