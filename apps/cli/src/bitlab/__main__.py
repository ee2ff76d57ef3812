"""`python -m bitlab ...` is the same as `bitlab ...`."""

from bitlab.main import run

if __name__ == "__main__":
    run()
