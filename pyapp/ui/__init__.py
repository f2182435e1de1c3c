"""The page: DOM wiring for each panel. The only package that touches the browser's DOM."""
