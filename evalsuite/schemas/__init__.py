"""JSON Schemas (draft 2020-12) of the results files: `cell.schema.json` (one cell record) and
`manifest.schema.json` (one run). Loaded with `importlib.resources` by `evalsuite.results`."""
