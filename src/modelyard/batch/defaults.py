"""Batch defaults, importable without Arrow (the CLI shows them in ``--help``)."""

# A worker's working memory is ~1.5 KB per row of a batch (Arrow → pandas → the
# pipeline's copies); at 20,000 rows it stays ~90 MiB over the libraries, and
# rows/s measured the same at 20,000 and 50,000 rows (LightGBM pipeline).
DEFAULT_BATCH_ROWS = 20_000

# Rows per part, the unit of resumption (cut at row-group boundaries).
DEFAULT_PART_ROWS = 1_000_000

# Share of input rows that may be rejected (rows that truly cannot be scored)
# before the job counts as failed input: the CLI then exits with
# EXIT_TOO_MANY_REJECTS. Out-of-domain values the model scores are not rejects.
DEFAULT_MAX_REJECT_RATE = 0.01
EXIT_TOO_MANY_REJECTS = 10
