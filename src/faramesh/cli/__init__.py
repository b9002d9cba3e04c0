"""The `faramesh` command line: policy tooling (check, fmt, eval, test, lint, convert, demo).

`main.py` builds the parser and maps errors to exit statuses; each command lives in its
own module and is imported only when it runs, so `faramesh --help` stays fast.
"""
