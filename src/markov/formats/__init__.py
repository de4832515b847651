"""The files a run writes to its model store, each format in one module (docs/file-formats.md)."""
