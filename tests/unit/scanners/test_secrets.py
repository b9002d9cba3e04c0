"""The secrets scanner: each detector fires on a real shape, not on near misses or prose."""

from __future__ import annotations

import pytest

from faramesh.scanners.detector import Action
from faramesh.scanners.engine import Active, make_plan, scan
from tests.unit.scanners.cases import detectors_of, example_ids

PLAN = make_plan((Active("secrets", Action.DENY),))
detectors = detectors_of("secrets", Action.DENY, "args", "text")

# Assembled at run time so this file does not itself look like it holds credentials.
AWS = "AKIA" + "IOSFODNN7EXAMPLE"
GITHUB = "ghp_" + "a1B2c3D4e5" * 4
STRIPE = "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc"
GOOGLE = "AIza" + "SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"

TRUE_EXAMPLES = [
    ("aws_access_key_id", f"aws key {AWS} in config", AWS),
    ("private_key", "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx4f\n"
                    "-----END RSA PRIVATE KEY-----", "MIIEowIBAAKCAQEAx4f"),
    ("private_key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA",
     "b3BlbnNzaC1rZXktdjEAAAA"),
    ("github_token", f"token {GITHUB}", GITHUB),
    ("github_token", "github_pat_" + "11ABCDEFG0" * 3, "11ABCDEFG0" * 3),
    ("slack_token", "xoxb-" + "1234567890-abcdefghij", "1234567890-abcdefghij"),
    ("slack_webhook", "https://hooks.slack.com/services/" + "T000/B000/XXXXXXXXXXXXXXXXXXXX",
     "T000/B000/XXXXXXXXXXXXXXXXXXXX"),
    ("stripe_key", f"stripe {STRIPE}", STRIPE),
    ("stripe_key", "rk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc", "4eC39HqLyjWDarjtT1zdp7dc"),
    ("google_api_key", f"key={GOOGLE}", GOOGLE),
    ("jwt", f"session {JWT}", JWT),
    ("url_credentials", "postgres://admin:" + "Sup3rS3cret" + "@db.internal:5432/app",
     "Sup3rS3cret"),
    ("bearer_token", "Authorization: Bearer " + "abcDEF1234567890ghijKLmn", "abcDEF1234567890"),
    ("assigned_secret", 'password = "' + "S3cure-Passw0rd!!" + '"', "S3cure-Passw0rd!!"),
    ("assigned_secret", "API_KEY=" + "9f8e7d6c5b4a39281706", "9f8e7d6c5b4a39281706"),
    ("assigned_secret", '{"client_secret": "' + "q8Zt-72mkWp0xLr9" + '"}', "q8Zt-72mkWp0xLr9"),
]

NEAR_MISSES = [
    "AKIA1234",  # too short for an access key id
    "xAKIA" + "IOSFODNN7EXAMPLE",  # not at a word boundary
    "ghp_short",
    "sk_" + "test_4eC39HqLyjWDarjtT1zdp7dc",  # a test key is not a live key
    "pk_" + "live_4eC39HqLyjWDarjtT1zdp7dc",  # publishable keys are public
    "eyJhbGciOi.notajwt",
    "-----BEGIN PUBLIC KEY-----",
    "password = hunter2",  # short: not a long assigned value
    "password=${DB_PASSWORD}",
    "api_key: YOUR_API_KEY_HERE",
    "password: ********************",
    "Bearer authentication_is_required_here",
    "https://example.com/docs",
]

BENIGN_PROSE = [
    "please send the user a password reset link",
    "rotate the credentials before Friday",
    "the token budget for this run is 4000 tokens",
    "store the API key in the vault, never in code",
    "passwords must be at least 12 characters long",
    "the bearer of this letter",
]



@pytest.mark.parametrize(("detector", "text", "secret"), TRUE_EXAMPLES,
                         ids=example_ids(TRUE_EXAMPLES))
def test_each_detector_fires_on_a_true_example(detector: str, text: str, secret: str) -> None:
    assert detector in detectors(text)


@pytest.mark.parametrize(("detector", "text", "secret"), TRUE_EXAMPLES,
                         ids=example_ids(TRUE_EXAMPLES))
def test_a_finding_never_contains_the_secret(detector: str, text: str, secret: str) -> None:
    for hit in scan(PLAN, "args", {"text": text}):
        assert secret not in repr(hit.finding)
        assert secret not in str(hit.finding.to_dict())


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_misses_do_not_fire(text: str) -> None:
    assert detectors(text) == []


@pytest.mark.parametrize("text", BENIGN_PROSE)
def test_words_about_secrets_are_not_secrets(text: str) -> None:
    assert detectors(text) == []


def test_the_excerpt_shows_only_the_public_prefix_and_the_length() -> None:
    (hit,) = scan(PLAN, "args", {"text": AWS})
    assert hit.finding.excerpt == "AKIA…(20 chars)"
