"""`vecinos tally FILE`: count a ballot file (BLT, or the JSON polls and elections publish) on any computer.

It needs no database and no settings, so that anyone can repeat a published count with the same program."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bot.domain.ballot_files import METHODS, BallotFileError, count_file, read_ballot_file, result_table
from bot.errors import CommandError


def add_tally_command(sub: Any) -> None:
    """Add `tally` to the `vecinos` parser."""
    tally = sub.add_parser("tally", help="count a ballot file (BLT or JSON) and print the result with every round")
    tally.add_argument("file", type=Path, metavar="FILE", help="a .blt file or a published JSON ballot document")
    tally.add_argument("--method", choices=METHODS, help="default: the file's (BLT: stv)")
    tally.add_argument("--seats", type=int, help="default: the file's")
    tally.add_argument("--table", action="store_true", help="a readable table instead of JSON")


def run_tally(args: argparse.Namespace) -> int:
    """Count the file and print JSON (or a table); a bad file is a CommandError naming the problem."""
    if args.seats is not None and args.seats < 1:
        raise CommandError("--seats must be at least 1")
    try:
        text = args.file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CommandError(f"{args.file}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"{args.file}: cannot be read ({exc})") from None
    try:
        result = count_file(read_ballot_file(text), method=args.method, seats=args.seats)
    except BallotFileError as exc:
        raise CommandError(f"{args.file}: {exc}") from None
    if args.table:
        print(result_table(result))
    else:
        sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    return 0
