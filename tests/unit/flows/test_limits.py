"""A backfill's bound is one number in three places that may not import each other: the
flows' limits (the logins' connection budgets), the API's check and the CLI's option."""

from __future__ import annotations

from comind.api.flow_actions import BackfillBody
from comind.cli import flows as cli_flows
from comind.flows.limits import MAX_PARALLEL


def test_the_api_and_the_cli_bound_a_backfill_as_the_flows_budget_it() -> None:
    assert cli_flows.MAX_PARALLEL == MAX_PARALLEL
    bound = [m.le for m in BackfillBody.model_fields["parallel"].metadata if hasattr(m, "le")]
    assert bound == [MAX_PARALLEL]
