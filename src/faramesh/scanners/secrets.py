"""Secrets: credentials with a recognizable shape, tuned for precision over recall.

Each detector keys on a vendor prefix or an explicit assignment, so prose about
"credentials", a "password reset" or a "token budget" does not fire. The generic
`password=` / `api_key=` detector needs a value of 12 characters or more that is not a
placeholder (`${DB_PASSWORD}`, `<your-key>`, `********`, `YOUR_API_KEY`).
"""

from __future__ import annotations

from faramesh.scanners.detector import Detector

SCANNER = "secrets"

MIN_ASSIGNED_VALUE = 12

_ASSIGNED_KEYS = (r"(?:passw(?:or)?d|passphrase|pwd|client[_-]?secret|secret[_-]?key"
                  r"|api[_-]?key|apikey|access[_-]?key(?:[_-]?id)?|access[_-]?token"
                  r"|auth[_-]?token|refresh[_-]?token|private[_-]?key)")
_VALUE_CHARS = r"[^\s\"'`,;&<>{}()\[\]\x00]"


def _not_placeholder(value: str) -> bool:
    if len(value) < MIN_ASSIGNED_VALUE:
        return False
    if set(value) <= set("*xX.#-_"):
        return False  # a mask, not a value
    if value.startswith(("$", "%")):
        return False  # an environment or template reference
    stripped = value.replace("_", "").replace("-", "")
    return not (stripped.isalpha() and stripped.isupper())  # YOUR_API_KEY, DB_PASSWORD


def _token_like(value: str) -> bool:
    """A bearer token mixes letters and digits; `Bearer authentication_required` does not."""
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


DETECTORS: tuple[Detector, ...] = (
    Detector("aws_access_key_id", r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b", reveal=4),
    # No `v` group: without captures RE2 finds the span with its DFA alone, which
    # matters for a key block that runs on for a megabyte.
    Detector("private_key",
             r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----(?:(?s:.*?)-----END[ A-Z0-9]*"
             r"PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s]*)", reveal=11),
    Detector("github_token",
             r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})\b", reveal=4),
    Detector("slack_token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}", reveal=5),
    Detector("slack_webhook",
             r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]{20,}",
             reveal=24),
    Detector("stripe_key", r"\b[rs]k_live_[A-Za-z0-9]{20,}\b", reveal=8),
    Detector("google_api_key", r"\bAIza[0-9A-Za-z_-]{35}", reveal=4),
    Detector("jwt", r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*",
             reveal=3),
    Detector("url_credentials",
             r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/:@\x00]+:(?P<v>[^\s/@<>\x00]{3,})@[A-Za-z0-9.-]"),
    Detector("bearer_token", r"(?i)\bbearer\s+(?P<v>[A-Za-z0-9._~+/-]{20,}=*)",
             check=_token_like),
    Detector("assigned_secret",
             rf"(?i){_ASSIGNED_KEYS}[\"']?\s*[:=]\s*[\"']?(?P<v>{_VALUE_CHARS}{{{MIN_ASSIGNED_VALUE},}})",
             check=_not_placeholder),
)
