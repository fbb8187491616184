"""`python -m zonepaper`: the command line (the review server runs ingest this way for the stations' files)."""

from zonepaper.cli import main

if __name__ == "__main__":
    main()
