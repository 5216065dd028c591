"""The Redis key patterns a flow's user is granted, from the spec alone."""

from __future__ import annotations

import textwrap
from pathlib import Path

from comind.flows.redis_access import key_patterns
from comind.spec import load_spec

SPEC = """
platform: {name: p}
apps:
  shop:
    run: "true"
    database: {}
    cache: {}
    queues: {q: {}}
flows:
  plain: {kind: stream, source: queue://shop/q, sink: {queue: shop/q}}
  both:
    kind: stream
    source: queue://shop/q
    steps: [{enrich: {table: shop/customers, by: customer_id}}]
    sinks:
      orders: {redis: "shop:order:{id}"}
      latest: {redis: "shop:latest"}
      odd: {redis: "shop:a*b{{x}}:{id}:{n}"}
"""


def test_a_flow_gets_its_sinks_literal_prefixes_and_its_enrich_cache(tmp_path: Path) -> None:
    (tmp_path / "comind.yaml").write_text(textwrap.dedent(SPEC))
    spec = load_spec(tmp_path)
    assert key_patterns(spec, "plain") == ()
    assert key_patterns(spec, "both") == (
        "comind:flow:both:enrich:*",
        "shop:a\\*b{x}:*",  # glob characters of the prefix match only themselves
        "shop:latest",  # no placeholder: that one key
        "shop:order:*",
    )
