"""The connection to the IBKR Client Portal Gateway and its life."""

from ibkr_session.clock import Clock, ManualClock, SystemClock
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
from ibkr_session.manager import SessionManager
from ibkr_session.schedule import ResetSchedule
from ibkr_session.state import SessionState

__all__ = [
    "Clock",
    "CompetingSessionError",
    "DuplicateOrderError",
    "GatewayUnavailableError",
    "GatewayUnreachableError",
    "IbkrAPIError",
    "IbkrError",
    "InsecureGatewayError",
    "InvalidRequestError",
    "ManualClock",
    "NoBridgeError",
    "NotAuthenticatedError",
    "NotPrimedError",
    "OrderRejectedError",
    "RateLimitedError",
    "ResetSchedule",
    "ResetWindowError",
    "SessionManager",
    "SessionState",
    "SystemClock",
    "UnreadableAnswerError",
]
