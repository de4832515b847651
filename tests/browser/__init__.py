"""The browser test of the workshop (a package, so its conftest is not the module `conftest`)."""
