"""The 19 ``ctx.ibkr`` endpoint methods on top of ``ibkr_session``.

``IbkrClient`` is the ``ctx.ibkr`` object; the error tree of ``ibkr_session`` is re-exported
so a worker needs one import; the typed views (``Quote``, ``Order``, ...) read the raw
answers into numbers and datetimes when a worker wants them. Hosting a worker module
(``WorkerContext``, ``run_worker``, the ``ibkr`` command) is ``ibkr_host``'s business.
"""

from ibkr_api.client import IbkrClient
from ibkr_api.models import (
    Account,
    AuthStatus,
    Bar,
    Contract,
    History,
    LedgerEntry,
    Order,
    OrderReply,
    Position,
    Quote,
)
from ibkr_api.orders import (
    OrderOutcomeUnknownError,
    OrderUnconfirmedUnavailableError,
    OrderUnconfirmedUnreachableError,
)
from ibkr_api.stream import (
    LiveQuote,
    OrderEvent,
    PnlEvent,
    QuoteEvent,
    Stream,
    StreamClosedError,
    StreamError,
    StreamEvent,
    StreamGap,
    StreamOverflowError,
    StreamStats,
    TradeEvent,
)
from ibkr_session.errors import (
    CompetingSessionError,
    DuplicateOrderError,
    GatewayUnavailableError,
    GatewayUnreachableError,
    IbkrAPIError,
    IbkrError,
    InsecureGatewayError,
    InvalidRequestError,
    NoBridgeError,
    NotAuthenticatedError,
    NotPrimedError,
    OrderRejectedError,
    RateLimitedError,
    ResetWindowError,
    UnreadableAnswerError,
)

__all__ = [
    "Account",
    "AuthStatus",
    "Bar",
    "CompetingSessionError",
    "Contract",
    "DuplicateOrderError",
    "GatewayUnavailableError",
    "GatewayUnreachableError",
    "History",
    "IbkrAPIError",
    "IbkrClient",
    "IbkrError",
    "InsecureGatewayError",
    "InvalidRequestError",
    "LedgerEntry",
    "LiveQuote",
    "NoBridgeError",
    "NotAuthenticatedError",
    "NotPrimedError",
    "Order",
    "OrderEvent",
    "OrderOutcomeUnknownError",
    "OrderRejectedError",
    "OrderReply",
    "OrderUnconfirmedUnavailableError",
    "OrderUnconfirmedUnreachableError",
    "PnlEvent",
    "Position",
    "Quote",
    "QuoteEvent",
    "RateLimitedError",
    "ResetWindowError",
    "Stream",
    "StreamClosedError",
    "StreamError",
    "StreamEvent",
    "StreamGap",
    "StreamOverflowError",
    "StreamStats",
    "TradeEvent",
    "UnreadableAnswerError",
]
