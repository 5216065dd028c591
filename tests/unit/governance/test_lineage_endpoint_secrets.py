"""The OpenLineage endpoint's secrets (API key, password in the URL) never reach a log."""

from __future__ import annotations

from comind.embedded.settings import Settings
from comind.governance.lineage_emitter import http_transport, shown_url
from comind.observe.logs import scrub
from comind.platform.lineage import lineage_env


def test_the_url_is_shown_without_its_credentials() -> None:
    assert shown_url("https://ol:pa55word@marquez:5000/x?y=1") == "https://marquez:5000/x?y=1"
    assert shown_url("http://marquez:5000") == "http://marquez:5000"


def test_a_transport_registers_its_key_and_url_password_for_redaction() -> None:
    http_transport("http://ol:transport-pass@marquez:5000", "transport-api-key")
    line = scrub("posting to http://ol:transport-pass@marquez with transport-api-key")
    assert "transport-pass" not in line and "transport-api-key" not in line


def test_the_platform_registers_what_it_passes_to_workers() -> None:
    settings = Settings(
        openlineage_url="http://ol:env-pass-1234@marquez:5000",
        openlineage_api_key="env-api-key-1234",
    )
    env = lineage_env(settings)
    assert scrub(" ".join(env.values())) == "http://ol:***@marquez:5000 ***"
