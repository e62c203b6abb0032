"""The end-to-end demonstration that ``make demo`` and ``modelyard quickstart`` run."""
