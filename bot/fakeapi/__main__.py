"""`python -m bot.fakeapi [--host H] [--port N] [--latency MIN-MAX]`: run the fake Bot API server in the foreground."""

from __future__ import annotations

import argparse

from bot.fakeapi.server import parse_latency, run_fake_server


def main(argv: list[str] | None = None) -> None:
    """Parses --host/--port and serves until Ctrl+C or SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m bot.fakeapi", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument("--latency", type=parse_latency, default=(0.0, 0.0), metavar="MIN-MAX", help="ms, e.g. 30-250")
    parser.add_argument("--state-dir", default=None, metavar="DIR", help="keep update ids growing across restarts")
    args = parser.parse_args(argv)
    run_fake_server(args.host, args.port, send_latency_ms=args.latency, state_dir=args.state_dir)


if __name__ == "__main__":
    main()
