"""Thin entry point: settings from the environment → migrate → create_app → serve.

`python server.py` is the same as `vbostotte serve`; see `vbostotte --help` for the other commands.
"""

from vbostotte.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["serve", *__import__("sys").argv[1:]]))
