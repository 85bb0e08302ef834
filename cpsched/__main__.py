"""`python -m cpsched`: the `cpsched` command line, from this checkout."""

from cpsched.cli import main

if __name__ == "__main__":
    main()
