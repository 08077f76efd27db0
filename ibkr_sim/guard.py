"""The gateway's refusals that come from the state of the sessions, in one function.

Before an endpoint runs, the gateway checks which session the route needs and whether
it is there. IBKR documents few of these answers; the simulator sends the observed ones
(IBKR-FACTS §1, §2, §6):

- no SSO session: 401 with an empty ``text/plain`` body; ``/tickle`` answers 200
  ``{"error": "no session"}``;
- nightly reset: ``/iserver/*`` 503 with an empty body, ``/tickle`` ``{"error": "no
  session"}``, ``/portfolio/*`` unaffected;
- competing login: ``/iserver/*`` (but ``/iserver/auth/*``) 400 ``"Bad Request: no
  bridge"``: the bridge belongs to the other platform;
- brokerage session down (idle, reset, competitor gone): ``/iserver/*`` 401 empty;
- not primed: 400 ``"Bad Request: Please query /accounts first"``.
"""

from __future__ import annotations

from ibkr_sim.replies import Reply, empty_reply, error_reply, json_reply
from ibkr_sim.routing import Access, Route
from ibkr_sim.session_model import SessionModel

__all__ = ["NO_SESSION", "refusal_for"]

NO_SESSION: dict[str, object] = {"error": "no session"}
_NO_BRIDGE = "Bad Request: no bridge"
_NOT_PRIMED = "Bad Request: Please query /accounts first"


def refusal_for(route: Route, session: SessionModel) -> Reply | None:
    """The answer that replaces ``route``'s in the sessions' state, or ``None`` to serve."""
    if route.access is Access.TICKLE:
        return json_reply(NO_SESSION) if not session.sso or session.in_reset() else None
    if not session.sso:
        return empty_reply(401)
    if route.access is Access.SSO:
        return None
    if session.in_reset():
        return empty_reply(503)
    if route.access is Access.BROKERAGE_AUTH:
        return None
    if session.competing:
        return error_reply(400, _NO_BRIDGE)
    if not session.authenticated:
        return empty_reply(401)
    if route.needs_priming and not session.primed:
        return error_reply(400, _NOT_PRIMED)
    return None
