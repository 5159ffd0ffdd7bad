"""Split a CSV into a training and a test file, shuffled with a fixed seed, for `outcomedesk assist evaluate`.

    .venv/bin/python -m benchmarks.ai_split ../shared/data/it_ticket_assignment/train.csv --out /tmp/ita
    # writes /tmp/ita/train.csv (80 %) and /tmp/ita/test.csv (20 %), seed 42
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="Folder for train.csv and test.csv")
    parser.add_argument("--test-share", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    if not 0 < args.test_share < 1:
        sys.exit("--test-share: give a share between 0 and 1")
    csv.field_size_limit(2**31 - 1)
    with args.file.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
        table = list(csv.reader(handle))
    header, body = table[0], table[1:]
    random.Random(args.seed).shuffle(body)
    cut = round(len(body) * (1 - args.test_share))
    args.out.mkdir(parents=True, exist_ok=True)
    for name, part in (("train", body[:cut]), ("test", body[cut:])):
        with (args.out / f"{name}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(part)
    print(f"{args.out}/train.csv: {cut} rows; {args.out}/test.csv: {len(body) - cut} rows")


if __name__ == "__main__":
    main()
