"""Layout parsers: a dataset's files in manual_dir -> ParsedDataset (one module per layout)."""
