"""wordcalc: app logic that runs in Pyodide (and under CPython for tests)."""
