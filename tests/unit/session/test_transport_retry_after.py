"""An absurd ``Retry-After`` costs at most IBKR's penalty box, never the client's life."""

from __future__ import annotations

import pytest

from ibkr_api import IbkrClient, RateLimitedError
from ibkr_session import ManualClock
from tests.conftest import MARKET_OPEN
from tests.hostile import HostileGateway, Reply


@pytest.mark.parametrize("header", ["1e308", "86400", "9" * 400])
def test_after_an_absurd_retry_after_the_client_works_again_once_the_box_is_over(
    header: str,
) -> None:
    clock = ManualClock(MARKET_OPEN)
    with HostileGateway() as gateway:
        client = IbkrClient(gateway.url, clock=clock, retry_attempts=1)
        gateway.fault(
            "/portfolio/accounts", lambda: Reply(status=429, headers={"Retry-After": header}),
            acts=False, times=1,
        )  # fmt: skip
        with pytest.raises(RateLimitedError) as caught:
            client.get_accounts()
        assert caught.value.retry_after == 900.0  # IBKR's box lasts 10-15 minutes
        clock.advance(901)
        assert client.get_accounts()[0]["id"] == "U1234567"
        assert client.get_subaccounts()[0]["id"] == "U1234567"
        client.close()
