"""SessionManager: keeps one gateway's sessions usable and sends every request through them.

``request`` (ARCHITECTURE.md, Seam 1) guards ``/iserver/*`` calls before they leave:

1. inside the nightly reset window → ``ResetWindowError``, nothing sent;
2. UNKNOWN / STALE / DISCONNECTED / COMPETING, or a reset since the last contact → probe;
3. UNAUTHENTICATED → ssodh/init (compete=false), then re-prime;
4. COMPETING → ``CompetingSessionError`` (or ssodh/init with compete=true on
   ``on_competing="take_over"``);
5. not yet primed in this brokerage session → ``GET /iserver/accounts``, re-select the
   remembered account, re-send the remembered suppressed question ids.

Then one attempt at the caller's request (retries belong to ``ibkr_api``), paced, and its
answer or failure updates the state. A refusal that proves the gateway did not act on it
(401 / "no session", "Please query /accounts first") mends the session through the guard
and sends the request once more; nothing else is ever resent here.

One re-entrant lock covers state, probes and recovery, so two threads never both run
ssodh/init; it is never held while a plain user request is on the wire. While an order
question awaits its reply nothing extra is sent (a request in between makes the gateway
cancel the order).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import math
import os
import random
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

from ibkr_session.clock import Clock, SystemClock
from ibkr_session.errors import (
    CompetingSessionError,
    GatewayUnavailableError,
    GatewayUnreachableError,
    IbkrAPIError,
    IbkrError,
    InvalidRequestError,
    NotAuthenticatedError,
    RateLimitedError,
    ResetWindowError,
)
from ibkr_session.logs import get_logger
from ibkr_session.pacing import Pacer
from ibkr_session.schedule import ResetSchedule
from ibkr_session.state import SessionState, StateMachine, TransitionListener
from ibkr_session.transport import Transport, is_order_path, order_question, require_seconds

__all__ = ["AuthStatus", "SessionManager", "backoff_delay"]

log = get_logger(__name__)

_S = SessionState
_PROBE_FIRST = frozenset({_S.UNKNOWN, _S.STALE, _S.DISCONNECTED, _S.COMPETING})
_CONTINUES = frozenset({_S.AUTHENTICATED, _S.STALE})
"""States from which an authenticated answer may still be the same brokerage session."""

_TICKLE = "/tickle"
_AUTH_STATUS = "/iserver/auth/status"
_SSODH_INIT = "/iserver/auth/ssodh/init"
_STATUS_PATHS = frozenset({_TICKLE, _AUTH_STATUS, _SSODH_INIT})
_UNPRIMED_TEXT = "query /accounts first"
"""Seam 1's one matched text: the gateway gives this refusal no status or id of its own."""
_RESET_SYMPTOMS = (NotAuthenticatedError, GatewayUnavailableError)
"""Answers seen during the nightly reset (IBKR-FACTS §2); inside the window they mean it."""
_SUPPRESS_BATCH = 51
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
_POLL_SECONDS = 1.0


@dataclass(frozen=True)
class AuthStatus:
    """The gateway's verdict on the brokerage session, from either answer shape."""

    authenticated: bool
    competing: bool
    connected: bool
    message: str

    @classmethod
    def from_answer(cls, body: Any) -> AuthStatus | None:
        """Read tickle's nested ``iserver.authStatus`` or auth/status's flat object."""
        if not isinstance(body, dict):
            return None
        nested = body.get("iserver")
        if isinstance(nested, dict) and isinstance(nested.get("authStatus"), dict):
            body = nested["authStatus"]
        if "authenticated" not in body:
            return None
        return cls(
            authenticated=body.get("authenticated") is True,
            competing=body.get("competing") is True,
            connected=body.get("connected") is not False,
            message=str(body.get("message") or ""),
        )


def backoff_delay(failures: int, *, initial: float, cap: float, rng: random.Random) -> float:
    """Seconds before the next probe after ``failures`` consecutive failures.

    "Equal jitter": half of the exponential step is fixed and half random, so the delays
    still grow (each at least the previous step) while many workers spread out.
    """
    step = min(cap, initial * 2.0 ** min(failures, 32))
    return step / 2 + rng.uniform(0.0, step / 2)


class SessionManager:
    """The connection to one Client Portal Gateway and the life of its sessions."""

    def __init__(
        self,
        gateway_url: str = "https://localhost:5000",
        *,
        clock: Clock | None = None,
        region: str = "america",
        tickle_interval: float = 60.0,
        stale_after: float = 300.0,
        pin: str | None = None,
        verify: str | os.PathLike[str] | bool | None = None,
        insecure: bool = False,
        on_competing: Literal["wait", "take_over"] = "wait",
        account_id: str | None = None,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        pacing: bool = True,
        reset_schedule: ResetSchedule | None = None,
        question_hold: float = 60.0,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        rng: random.Random | None = None,
    ) -> None:
        for name, value in (
            ("tickle_interval", tickle_interval),
            ("stale_after", stale_after),
            ("question_hold", question_hold),
            ("backoff_initial", backoff_initial),
            ("backoff_max", backoff_max),
        ):
            require_seconds(name, value)
        if backoff_max < backoff_initial:
            raise InvalidRequestError("backoff_max must be >= backoff_initial", field="backoff_max")
        if on_competing not in ("wait", "take_over"):
            raise InvalidRequestError(
                f"on_competing must be 'wait' or 'take_over', got {on_competing!r}",
                field="on_competing",
            )
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.schedule = reset_schedule if reset_schedule is not None else ResetSchedule(region)
        self._transport = Transport(
            gateway_url,
            clock=self.clock,
            pin=pin,
            verify=verify,
            insecure=insecure,
            timeout=timeout,
            connect_timeout=connect_timeout,
        )
        self._pacer = Pacer(self.clock) if pacing else None
        self._tickle_interval = float(tickle_interval)
        self._stale_after = float(stale_after)
        self._question_hold = float(question_hold)
        self._backoff_initial = float(backoff_initial)
        self._backoff_max = float(backoff_max)
        self._rng = rng if rng is not None else random.Random()
        self._take_over = on_competing == "take_over"

        self._lock = threading.RLock()
        self._machine = StateMachine()
        self._account_id = _check_account(account_id) if account_id is not None else None
        self._suppressed: dict[str, None] = {}  # ordered set
        self._generation = 0
        self._primings = 0
        self._primed_generation: int | None = None
        self._last_contact: float | None = None  # monotonic
        self._last_contact_at: _dt.datetime | None = None  # wall clock, for reset windows
        self._next_tickle = -math.inf
        self._failures = 0
        self._next_probe = -math.inf
        self._question_until: float | None = None
        self._question_id: str | None = None
        self._orders_in_flight = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- what ibkr_api and users read -------------------------------------------------

    @property
    def gateway_url(self) -> str:
        """``https://host:port`` of the gateway (where the user logs in)."""
        return self._transport.gateway_url

    @property
    def state(self) -> SessionState:
        """The current state, after letting the clock speak (reset window, staleness)."""
        with self._lock:
            self._apply_clock()
            return self._machine.state

    @property
    def account_id(self) -> str | None:
        """The account re-selected after every re-authentication."""
        return self._account_id

    @property
    def brokerage_generation(self) -> int:
        """Grows with every new brokerage session (snapshots, suppressions die with one)."""
        return self._generation

    def on_transition(self, callback: TransitionListener) -> None:
        """Call ``callback(old, new, reason)`` after every state change."""
        self._machine.on_transition(callback)

    # -- requests ---------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        json: object = None,
        timeout: float | None = None,
    ) -> Any:
        """``method /v1/api{path}`` after the guard; the gateway's JSON.

        One attempt, plus one resend only when the gateway refused it without acting.
        """
        method = _check_method(method)
        _check_path(path)
        if timeout is not None:
            require_seconds("timeout", timeout)
        if not _is_guarded(path):
            return self._exchange(method, path, params=params, json=json, timeout=timeout)
        with self._order_flow(method, path):
            ticket = self._guard(method, path)
            send = functools.partial(
                self._exchange, method, path, params=params, json=json, timeout=timeout
            )
            try:
                return send(sent_in=ticket)
            except IbkrAPIError as exc:
                session_lost = isinstance(exc, NotAuthenticatedError)
                if not session_lost and _UNPRIMED_TEXT not in exc.msg.lower():
                    raise
                # Refused without being acted on (the brokerage session died since the last
                # probe, or is not primed): mending the session and sending the request
                # once more is safe, orders included.
                log.info("session.refused_before_acting", method=method, path=path, error=exc.msg)
                ticket = self._mend(method, path, ticket, session_lost=session_lost)
            return send(sent_in=ticket)

    def select_account(self, account_id: str) -> Any:
        """``POST /iserver/account``; the id is remembered and re-selected after re-auth."""
        account_id = _check_account(account_id)
        answer = self.request("POST", "/iserver/account", json={"acctId": account_id})
        with self._lock:
            self._account_id = account_id
        return answer

    def remember_suppressed(self, message_ids: Iterable[str]) -> None:
        """Question ids to suppress again in every new brokerage session."""
        ids = list(message_ids) if not isinstance(message_ids, str) else [message_ids]
        if not ids or not all(isinstance(item, str) and item.strip() for item in ids):
            raise InvalidRequestError(
                f"message ids must be non-empty strings like 'o163', got {ids!r}",
                field="message_ids",
            )
        with self._lock:
            self._suppressed.update(dict.fromkeys(item.strip() for item in ids))

    def question_pending(self, reply_id: str) -> None:
        """An order question awaits its reply: send nothing extra for ``question_hold`` s."""
        with self._lock:
            self._question_id = reply_id
            self._question_until = self.clock.monotonic() + self._question_hold

    def question_answered(self) -> None:
        """The reply went out (or the question was abandoned): keep-alive may resume."""
        with self._lock:
            self._question_id = None
            self._question_until = None

    def refresh(self) -> SessionState:
        """Probe now and return the resulting state.

        No probe inside a reset window or while an order question awaits its reply.
        """
        with self._lock:
            self._apply_clock()
            if self._machine.state is not _S.RESET_WINDOW and not self._must_stay_quiet():
                try:
                    self._probe()
                except IbkrError as exc:
                    log.warning("session.probe_failed", error=str(exc))
            return self._machine.state

    # -- keep-alive -------------------------------------------------------------------

    def keepalive(self) -> None:
        """One keep-alive step: tickle when due, back off while the gateway is gone.

        Failures are logged, never raised: this runs unattended.
        """
        with self._lock:
            self._apply_clock()
            if self._must_stay_quiet():
                log.debug("session.keepalive_held", reply_id=self._question_id)
                return
            now = self.clock.monotonic()
            disconnected = self._machine.state is _S.DISCONNECTED
            if now < (self._next_probe if disconnected else self._next_tickle):
                return
            self._next_tickle = now + self._tickle_interval
            try:
                if disconnected:
                    self._probe()
                else:
                    self._exchange("POST", _TICKLE)
            except ResetWindowError as exc:
                log.info("session.keepalive_in_reset_window", detail=str(exc))
            except IbkrError as exc:
                log.warning("session.keepalive_failed", error=str(exc), state=self.state.name)

    def start(self) -> None:
        """Run ``keepalive`` on a daemon thread until ``stop()``."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name="ibkr-session-keepalive", daemon=True
            )
            self._thread.start()

    @property
    def keeping_alive(self) -> bool:
        """Whether the keep-alive thread of ``start()`` is running."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def stop(self) -> None:
        """Stop the keep-alive thread (waits for its current step to finish)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        self._thread = None

    def close(self) -> None:
        """Stop the keep-alive thread and close the connections."""
        self.stop()
        self._transport.close()

    def __enter__(self) -> SessionManager:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SessionManager({self.gateway_url!r}, state={self._machine.state.name})"

    def _run(self) -> None:
        while True:
            try:
                self.keepalive()
            except Exception:
                log.exception("session.keepalive_crashed")
            if self._stop.wait(min(_POLL_SECONDS, self._tickle_interval)):
                return

    # -- the guard and recovery (lock held) -------------------------------------------

    def _guard(self, method: str, path: str) -> _Ticket:
        """Make ``/iserver`` usable or raise; says which session the request will meet."""
        with self._lock:
            self._apply_clock()
            window = self.schedule.window_at(self.clock.now())
            if window is not None:
                raise self._reset_window_error(window[1])
            if self._question_is_pending():
                return self._ticket()  # the reply must be the very next request
            if self._machine.state in _PROBE_FIRST:
                self._probe()
            if self._machine.state is _S.UNAUTHENTICATED:
                self._recover(compete=False)
            if self._machine.state is _S.COMPETING and self._take_over:
                self._recover(compete=True)
            if self._machine.state is _S.COMPETING:
                raise CompetingSessionError(
                    "competing",
                    "another IBKR platform (TWS, mobile, WebTrader) holds the brokerage "
                    "session: competing session; close it, or use on_competing='take_over'",
                    method=method,
                    path=path,
                )
            if self._primed_generation != self._generation:
                self._prime()
            return self._ticket()

    def _ticket(self) -> _Ticket:
        return _Ticket(generation=self._generation, primings=self._primings)

    def _probe(self) -> None:
        answer = self._exchange("POST", _AUTH_STATUS)
        if AuthStatus.from_answer(answer) is None:
            raise IbkrAPIError(200, "unreadable auth status answer", path=_AUTH_STATUS, body=answer)

    def _recover(self, *, compete: bool) -> None:
        log.info("session.recovering", compete=compete)
        self._exchange("POST", _SSODH_INIT, json={"publish": True, "compete": compete})
        if self._machine.state in (_S.AUTHENTICATED, _S.COMPETING):
            return
        raise NotAuthenticatedError(
            200,
            f"ssodh/init did not re-establish the brokerage session; log in at {self.gateway_url}",
            method="POST",
            path=_SSODH_INIT,
        )

    def _prime(self) -> None:
        """What every new brokerage session needs before orders, snapshots and queries."""
        self._exchange("GET", "/iserver/accounts")
        if self._account_id is not None:
            self._exchange("POST", "/iserver/account", json={"acctId": self._account_id})
        ids = list(self._suppressed)
        for start in range(0, len(ids), _SUPPRESS_BATCH):
            batch = ids[start : start + _SUPPRESS_BATCH]
            self._exchange("POST", "/iserver/questions/suppress", json={"messageIds": batch})
        self._primed_generation = self._generation
        self._primings += 1
        log.info("session.primed", generation=self._generation, account_id=self._account_id)

    def _mend(self, method: str, path: str, refused: _Ticket, *, session_lost: bool) -> _Ticket:
        """Doubt what the refusal disproved, then run the guard again: it recovers and
        primes, or raises what only a human can fix.

        When another thread renewed (or primed) the session after the refused request left,
        the refusal is old news: the guard alone confirms that, without doing it twice.
        """
        with self._lock:
            if session_lost and self._generation == refused.generation:
                self._probe()
            elif not session_lost and self._primings == refused.primings:
                self._primed_generation = None
            return self._guard(method, path)

    def _reset_window_error(
        self, end: _dt.datetime, *, answered: IbkrAPIError | None = None
    ) -> ResetWindowError:
        now = self.clock.now()
        local_end = end.astimezone(self.schedule.zone)
        what = "nothing was sent" if answered is None else f"the gateway answered {_said(answered)}"
        return ResetWindowError(
            f"IBKR nightly reset window ({self.schedule.zone.key}): /iserver resumes at "
            f"{local_end:%H:%M} local ({end:%H:%M} UTC); {what}",
            retry_after=max(0.0, (end - now).total_seconds()),
            resumes_at=end,
        )

    # -- one network exchange and what it teaches ----------------------------------------

    def _exchange(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        json: object = None,
        timeout: float | None = None,
        sent_in: _Ticket | None = None,
    ) -> Any:
        """Pacer, then transport; every request (probes included) goes through here.

        ``sent_in`` is the session a guarded request was sent into, so that an answer
        arriving after another thread renewed the session is not taken for news.
        """
        try:
            with self._paced(method, path):
                answer = self._transport.send(
                    method, path, params=params, json=json, timeout=timeout
                )
        except InvalidRequestError:
            raise  # refused before sending: the gateway said nothing to learn from
        except IbkrError as exc:
            self._learn_from_failure(exc, method, path, sent_in)
            window = self.schedule.window_at(self.clock.now())
            if window is not None and isinstance(exc, _RESET_SYMPTOMS):
                # "no session" or a 5xx during the reset is the reset, not a logout: say so.
                raise self._reset_window_error(window[1], answered=exc) from exc
            raise
        self._learn_from_answer(method, path, answer)
        return answer

    @contextlib.contextmanager
    def _paced(self, method: str, path: str) -> Iterator[None]:
        if self._pacer is None:
            yield
        else:
            with self._pacer.slot(method, path):
                yield

    @contextlib.contextmanager
    def _order_flow(self, method: str, path: str) -> Iterator[None]:
        """Hold the keep-alive from before an order POST leaves until its answer is read.

        Its answer may be a question, and any request between a question and its reply
        makes the gateway cancel the order; the hold closes the gap before the caller
        (or ``_learn_from_answer``) can know there is a question.
        """
        if not _may_ask(method, path):
            yield
            return
        with self._lock:
            self._orders_in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._orders_in_flight -= 1

    def _learn_from_answer(self, method: str, path: str, answer: Any) -> None:
        with self._lock:
            self._failures = 0
            self._next_probe = -math.inf
            if _may_ask(method, path):
                self._note_question(path, answer)
            status = AuthStatus.from_answer(answer) if path in _STATUS_PATHS else None
            if status is not None:
                self._apply_status(status, path)
            elif _is_guarded(path) and self._machine.state is _S.AUTHENTICATED:
                self._confirm_contact()

    def _note_question(self, path: str, answer: Any) -> None:
        """An order answer that asks a question holds the keep-alive until the reply."""
        question = order_question(answer)
        if question is not None:
            self.question_pending(question[0])
        elif _is_reply(path):
            self.question_answered()

    def _learn_from_failure(
        self, exc: IbkrError, method: str, path: str, sent_in: _Ticket | None
    ) -> None:
        if isinstance(exc, RateLimitedError) and self._pacer is not None:
            self._pacer.penalize(exc.retry_after)
        with self._lock:
            if method == "POST" and _is_reply(path):
                # Answered and lost, or refused: either way that question is no longer open,
                # and no answer will come to say so.
                self.question_answered()
            if self._in_window():
                return  # inside the reset window the window owns the state
            if (
                isinstance(exc, NotAuthenticatedError)
                and sent_in is not None
                and sent_in.generation != self._generation
            ):
                log.info("session.refusal_predates_renewal", refused_in=sent_in.generation)
                return
            if isinstance(exc, GatewayUnreachableError):
                self._machine.transition(_S.DISCONNECTED, f"gateway unreachable: {exc}")
                self._next_probe = self.clock.monotonic() + backoff_delay(
                    self._failures,
                    initial=self._backoff_initial,
                    cap=self._backoff_max,
                    rng=self._rng,
                )
                self._failures += 1
                return
            self._failures = 0
            self._next_probe = -math.inf
            if isinstance(exc, NotAuthenticatedError):
                self._machine.transition(_S.UNAUTHENTICATED, exc.msg)

    def _apply_status(self, status: AuthStatus, source: str) -> None:
        if self._in_window():
            return
        old = self._machine.state
        if status.competing:
            self._machine.transition(_S.COMPETING, f"{source}: competing=true")
        elif status.authenticated:
            if not self._same_session_continues(old):
                self._generation += 1
                log.info("session.new_brokerage_session", generation=self._generation)
            self._machine.transition(_S.AUTHENTICATED, f"{source}: authenticated=true")
            self._confirm_contact()
        else:
            detail = "connected" if status.connected else "not connected"
            note = f" ({status.message})" if status.message else ""
            self._machine.transition(
                _S.UNAUTHENTICATED, f"{source}: {detail}, authenticated=false{note}"
            )

    def _same_session_continues(self, old: SessionState) -> bool:
        """Only a session we knew, with no reset since we last saw it, is the same one."""
        if old not in _CONTINUES or self._last_contact_at is None:
            return False
        return not self.schedule.window_passed(self._last_contact_at, self.clock.now())

    def _confirm_contact(self) -> None:
        self._last_contact = self.clock.monotonic()
        self._last_contact_at = self.clock.now()

    # -- the clock's part of the state machine (lock held) ------------------------------

    def _apply_clock(self) -> None:
        now = self.clock.now()
        window = self.schedule.window_at(now)
        state = self._machine.state
        if window is not None:
            self._machine.transition(
                _S.RESET_WINDOW, f"nightly reset window until {window[1].isoformat()}"
            )
        elif state is _S.RESET_WINDOW:
            self._machine.transition(_S.STALE, "reset window over")
        elif state is _S.AUTHENTICATED and self._last_contact is not None:
            quiet = self.clock.monotonic() - self._last_contact
            if quiet >= self._stale_after:
                self._machine.transition(_S.STALE, f"no confirmed contact for {quiet:.0f} s")
            elif self._last_contact_at is not None and self.schedule.window_passed(
                self._last_contact_at, now
            ):
                self._machine.transition(_S.STALE, "a reset window passed since last contact")

    def _in_window(self) -> bool:
        return self.schedule.window_at(self.clock.now()) is not None

    def _must_stay_quiet(self) -> bool:
        """No extra traffic of ours while an order POST or its question is open."""
        return self._orders_in_flight > 0 or self._question_is_pending()

    def _question_is_pending(self) -> bool:
        if self._question_until is None:
            return False
        if self.clock.monotonic() < self._question_until:
            return True
        log.warning("session.question_hold_expired", reply_id=self._question_id)
        self.question_answered()
        return False


@dataclass(frozen=True)
class _Ticket:
    """Which brokerage session, and which priming of it, a guarded request was sent into."""

    generation: int
    primings: int


def _is_reply(path: str) -> bool:
    return path.startswith("/iserver/reply/")


def _may_ask(method: str, path: str) -> bool:
    """A POST that may come back as an order question (place, modify, reply)."""
    return method == "POST" and is_order_path(path)


def _said(answer: IbkrAPIError) -> str:
    """What the gateway itself said (not our advice about it), for messages."""
    body = answer.body
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return f"HTTP {answer.code} {body['error']!r}"
    return f"HTTP {answer.code}"


def _is_guarded(path: str) -> bool:
    return path.startswith("/iserver/") and not path.startswith("/iserver/auth/")


def _check_method(method: str) -> str:
    upper = method.upper() if isinstance(method, str) else ""
    if upper not in _METHODS:
        raise InvalidRequestError(f"unsupported HTTP method {method!r}", field="method")
    return upper


def _check_path(path: str) -> None:
    if not isinstance(path, str) or not path.startswith("/") or "://" in path:
        raise InvalidRequestError(
            f"path must be relative to /v1/api and start with '/', got {path!r}", field="path"
        )


def _check_account(account_id: str) -> str:
    if not isinstance(account_id, str) or not account_id.strip():
        raise InvalidRequestError(
            f"account id must be a non-empty string like 'U1234567', got {account_id!r}",
            field="account_id",
        )
    return account_id.strip()
