"""Injection in arguments: shell command chaining, SQL injection, path traversal.

These look for the syntax of an attack (a command after `;`, `' OR 1=1`, `../`), so a
tool that legitimately takes shell or SQL text will see findings: that is why the default
is `warn`, and why `except_tools` exists.
"""

from __future__ import annotations

from faramesh.scanners.detector import EXCERPT_CHARS, Detector

SCANNER = "injection"

# Commands an injected chain runs; common words that are also commands (`cat`, `id`,
# `echo`) are left out of the chaining detector so prose with a `;` does not fire.
_COMMANDS = (r"(?:rm|curl|wget|bash|sh|zsh|dash|ksh|nc|ncat|netcat|socat|python[23]?|perl"
             r"|ruby|php|node|chmod|chown|mkfifo|dd|mkfs(?:\.\w+)?|eval|exec|base64|scp|ssh"
             r"|telnet|whoami|uname|shutdown|reboot|printenv|xargs)")
_SQL_GAP = r"(?:\s+|/\*[^*]*\*/)+"  # whitespace or inline comments between keywords

DETECTORS: tuple[Detector, ...] = (
    Detector("shell_chain", rf"(?:;|&&|\|\|?)\s*(?:sudo\s+)?{_COMMANDS}\b",
             reveal=EXCERPT_CHARS),
    Detector("shell_substitution",
             rf"`\s*(?:sudo\s+)?{_COMMANDS}\b[^`\x00]*`"
             r"|\$\(\s*[A-Za-z_./][^)\x00]*\)|\$\{IFS\}", reveal=EXCERPT_CHARS),
    Detector("rm_rf_root",
             r"\brm\s+(?:-{1,2}[A-Za-z-]+\s+)+(?:/\*?|~/?|\$HOME/?|\*)(?:[\s;&|'\"\x00]|$)",
             reveal=EXCERPT_CHARS),
    Detector("sql_tautology",
             r"(?i)['\"]\s*\)?\s*(?:OR|AND|\|\|)\s+\(?\s*['\"]?\w+['\"]?\s*"
             r"(?:=|<>|!=|>=|<=|\bLIKE\b)\s*['\"]?\w+|\bOR\s+1\s*=\s*1\b",
             reveal=EXCERPT_CHARS),
    Detector("sql_union_select",
             rf"(?i)\bUNION{_SQL_GAP}(?:(?:ALL|DISTINCT){_SQL_GAP})?SELECT\b",
             reveal=EXCERPT_CHARS),
    Detector("sql_stacked_query",
             r"(?i);\s*(?:(?:DROP|TRUNCATE|ALTER|CREATE|GRANT|REVOKE)\s+(?:TABLE|DATABASE"
             r"|SCHEMA|USER|INDEX|VIEW)\b|DELETE\s+FROM\b|INSERT\s+INTO\b|UPDATE\s+\w+\s+SET\b"
             r"|EXEC(?:UTE)?\s|SHUTDOWN\b)", reveal=EXCERPT_CHARS),
    Detector("sql_comment",
             r"['\"]\)*(?:--|#)(?:[\s\x00]|$)|['\"]\)*/\*|\w/\*!?\d*\*/\w"
             r"|;\s*--(?:[\s\x00]|$)|(?i)/\*!\d*\s*(?:SELECT|UNION|AND|OR)\b",
             reveal=EXCERPT_CHARS),
    Detector("sql_time_delay",
             r"(?i)\b(?:SLEEP\s*\(\s*\d|BENCHMARK\s*\(\s*\d|WAITFOR\s+DELAY\s+'|PG_SLEEP\s*\()",
             reveal=EXCERPT_CHARS),
    Detector("path_traversal",
             r"(?i)(?:\.|%2e|%252e|%c0%ae|%u002e){2}(?:/|\\|%2f|%5c|%252f|%255c|%c0%af|%u2215)",
             reveal=EXCERPT_CHARS),
    Detector("sensitive_path",
             r"(?i)/etc/(?:passwd|shadow|sudoers|gshadow)\b|/proc/self/(?:environ|cmdline|mem)\b"
             r"|\.ssh/(?:id_[a-z0-9]+|authorized_keys)\b|\.aws/credentials\b"
             r"|\\windows\\system32\\", reveal=EXCERPT_CHARS),
)
