"""Entry point for ``python -m socialwatch``."""

from socialwatch.cli import main

if __name__ == "__main__":
    main()
