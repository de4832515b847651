"""The files a run writes to its model store, each format in one module (file-formats.md)."""
