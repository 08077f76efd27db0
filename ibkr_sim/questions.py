"""Order questions ("are you sure?") that the gateway asks before it accepts an order.

The simulator asks four of IBKR's suppressible questions, one per reply, in this order:

- ``o163`` a limit price more than ``PRICE_CONSTRAINT`` (3 %) away from the last trade;
- ``o354`` no market data yet for the contract in this brokerage session (wording copied
  from the recorded answer);
- ``o383`` more than ``SIZE_LIMIT`` (500) shares or contracts (not for FX);
- ``o451`` an estimated value above ``VALUE_LIMIT`` (100,000 USD, the spec's example).

The o383 and o451 wordings follow the examples in IBKR's OpenAPI spec; o163 follows the
same pattern with IBKR's "Percentage constraint" phrase.
"""

from __future__ import annotations

from dataclasses import dataclass

from ibkr_sim.tickets import NEEDS_LIMIT, OrderTicket

__all__ = ["PRICE_CONSTRAINT", "SIZE_LIMIT", "VALUE_LIMIT", "Question", "questions_for"]

PRICE_CONSTRAINT = 0.03
SIZE_LIMIT = 500
VALUE_LIMIT = 100_000.0
_CONFIRM = "\nAre you sure you want to submit this order?"


@dataclass(frozen=True)
class Question:
    """One warning: its suppressible id and the text the gateway shows."""

    message_id: str
    text: str


def questions_for(ticket: OrderTicket, last: float, has_market_data: bool) -> list[Question]:
    """The questions ``ticket`` triggers at last trade ``last``, in the order they are asked."""
    instrument = ticket.instrument
    label = f"{ticket.side} {ticket.quantity:g} {instrument.symbol} {instrument.listing_exchange}"
    asked: list[Question] = []
    if (
        ticket.order_type in NEEDS_LIMIT
        and ticket.price is not None
        and abs(ticket.price - last) > PRICE_CONSTRAINT * last
    ):
        price = f"{ticket.price:.{instrument.decimals}f}"
        asked.append(
            Question(
                "o163",
                f'The following order "{label} @ {price}" price exceeds \n'
                f"the Percentage constraint of {PRICE_CONSTRAINT:.0%}.{_CONFIRM}",
            )
        )
    if not has_market_data:
        asked.append(
            Question(
                "o354",
                "You are submitting an order without market data. We strongly recommend "
                "against this as it may result in erroneous and unexpected trades."
                f"{_CONFIRM}",
            )
        )
    if instrument.sec_type != "CASH" and ticket.quantity > SIZE_LIMIT:
        asked.append(
            Question(
                "o383",
                f'The following order "{label}" size exceeds the Size Limit of '
                f"{SIZE_LIMIT}.{_CONFIRM}",
            )
        )
    value = ticket.quantity * (ticket.price or last) * instrument.multiplier
    if value > VALUE_LIMIT:
        asked.append(
            Question(
                "o451",
                f'The following order "{label}" value estimate of {value:,.2f} USD exceeds \n'
                f"the Total Value Limit of {VALUE_LIMIT:,.0f} USD.{_CONFIRM}",
            )
        )
    return asked
