"""`python -m evalsuite` is the `evalsuite` command."""

from evalsuite.cli import main

if __name__ == "__main__":
    main()
