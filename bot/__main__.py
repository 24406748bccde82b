"""`python -m bot` and the `vecinos` console script."""

import gc


def main() -> int:
    """Run the `vecinos` command, with the garbage collector paused while its modules load.

    Why: a start imports some 1,500 modules and nothing it allocates is garbage, yet the collector would walk the
    growing heap again and again (a sixth of the start's CPU). `vecinos run` turns it back on once its engine is
    imported (bot/app.py); every other command as soon as its arguments are parsed (bot/cli.py).
    """
    gc.disable()
    from bot.cli import main as command

    return command()


if __name__ == "__main__":
    raise SystemExit(main())
