"""SessionManager: keeps one gateway's sessions usable and sends every request through them.

The manager performs; ``ibkr_session.core`` decides. For a request ``request`` looks its
row up in the endpoint table (``ibkr_session.endpoints``); a guarded row (``/iserver``)
runs the guard first: it asks ``core.next_step`` what to do (refuse for the window, probe,
recover, take over, prime, proceed) and does it until the answer is "proceed". Then one
attempt at the caller's request (retries belong to ``ibkr_api``), paced, and its answer or
failure is read by ``core.read_status`` / ``core.read_failure``. A refusal that proves the
gateway did not act on it (``NotAuthenticatedError``, ``NotPrimedError``) mends the session
through the guard and sends the request once more; nothing else is ever resent here.

What several managers of one gateway share (pacing, the penalty box, the keep-alive lease,
single-flight recovery, priming once per brokerage generation, the order-question hold,
suppressed ids) goes through the ``coordination`` seam; the transport and the pacer are
built from options or passed in.

Locks: one re-entrant lock covers the guard, probes and recovery, so two threads never both
run ssodh/init; it is never held while a plain user request is on the wire, nor while the
keep-alive waits. Reading ``state`` does not wait for it. State listeners are called after
the lock is released. While an order question awaits its reply nothing extra is sent (a
request in between makes the gateway cancel the order).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import math
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

from ibkr_session import core
from ibkr_session.alerts import Alert, AlertDesk
from ibkr_session.clock import Clock, SystemClock
from ibkr_session.coordination import (
    CoordinationChoice,
    Coordinator,
    Grant,
    Wait,
    open_coordination,
)
from ibkr_session.coordination.shared import KEEPALIVE_LEASE, QUESTION_LEASE, RECOVERY_LEASE
from ibkr_session.core import AuthStatus, Step
from ibkr_session.endpoints import DEFAULT_GATEWAY_URL, Endpoint, Kind, endpoint, endpoint_for
from ibkr_session.errors import (
    CompetingSessionError,
    GatewayUnreachableError,
    IbkrAPIError,
    IbkrError,
    InvalidRequestError,
    NotAuthenticatedError,
    NotPrimedError,
    RateLimitedError,
    ResetWindowError,
)
from ibkr_session.hooks import Listeners, QuestionHold, RequestRecord
from ibkr_session.logs import get_logger
from ibkr_session.pacing import PACING_REFUSAL, Pacer
from ibkr_session.schedule import ResetSchedule
from ibkr_session.state import SessionState, StateMachine, TransitionListener
from ibkr_session.tls import TrustDecision
from ibkr_session.transport import (
    DEFAULT_MAX_ANSWER_BYTES,
    Transport,
    order_question,
    require_seconds,
)

__all__ = ["AuthStatus", "RequestRecord", "SessionManager"]

log = get_logger(__name__)

_S = SessionState
_TICKLE = endpoint("tickle")
_AUTH_STATUS = endpoint("auth_status")
_SSODH_INIT = endpoint("ssodh_init")
_ACCOUNTS = endpoint("brokerage_accounts")
_SELECT = endpoint("select_account")
_SUPPRESS = endpoint("suppress")
_STATUS_ROWS = frozenset({_TICKLE.name, _AUTH_STATUS.name, _SSODH_INIT.name})
_SUPPRESS_BATCH = 51
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
_POLL_SECONDS = 1.0
_KEEPALIVE_MAX_WAIT = 1.0
"""The keep-alive never waits long for pacing: a tickle that must wait is skipped."""
_RECOVERY_LEASE_SECONDS = 30.0
_STOP_WAIT = 2.0
_LEARNABLE = {state.name: state for state in (_S.COMPETING, _S.UNAUTHENTICATED)}
"""What one manager learns that the others take without probing."""
_SHARED_NEWS = frozenset({_S.AUTHENTICATED, *_LEARNABLE.values()})


class SessionManager:
    """The connection to one Client Portal Gateway and the life of its sessions."""

    def __init__(
        self,
        gateway_url: str = DEFAULT_GATEWAY_URL,
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
        total_timeout: float | None = None,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
        pacing: bool = True,
        pacing_max_wait: float = 30.0,
        coordination: CoordinationChoice = None,
        reset_schedule: ResetSchedule | None = None,
        question_hold: float = 60.0,
        competing_alert_after: float = 300.0,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        rng: random.Random | None = None,
        transport: Transport | None = None,
    ) -> None:
        for name, value in (
            ("tickle_interval", tickle_interval),
            ("stale_after", stale_after),
            ("question_hold", question_hold),
            ("competing_alert_after", competing_alert_after),
            ("backoff_initial", backoff_initial),
            ("backoff_max", backoff_max),
            ("pacing_max_wait", pacing_max_wait),
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
        self._transport = (
            transport
            if transport is not None
            else Transport(
                gateway_url,
                clock=self.clock,
                pin=pin,
                verify=verify,
                insecure=insecure,
                timeout=timeout,
                connect_timeout=connect_timeout,
                total_timeout=total_timeout,
                max_answer_bytes=max_answer_bytes,
            )
        )
        self._coordinator = open_coordination(
            coordination, gateway_url=self.gateway_url, clock=self.clock
        )
        self._pacer = (
            Pacer(self.clock, self._coordinator, max_wait=pacing_max_wait) if pacing else None
        )
        self._tickle_interval = float(tickle_interval)
        self._stale_after = float(stale_after)
        self._question_hold = float(question_hold)
        self._competing_alert_after = float(competing_alert_after)
        self._backoff_initial = float(backoff_initial)
        self._backoff_max = float(backoff_max)
        self._rng = rng if rng is not None else random.Random()
        self._take_over = on_competing == "take_over"

        self._lock = threading.RLock()
        self._depth = threading.local()
        self._machine = StateMachine()
        self._known = _S.UNKNOWN  # the last state that said something about the session
        self._account_id = _check_account(account_id) if account_id is not None else None
        self._suppressed: dict[str, None] = {}  # ordered set
        self._generation = 0
        self._primings = 0
        self._primed_generation: int | None = None
        self._last_contact: float | None = None  # monotonic
        self._last_contact_at: _dt.datetime | None = None  # wall clock, for reset windows
        self._contact_shared_at = -math.inf
        self._last_contact_shared: float | None = None  # in shared time
        self._share_contact_every = min(5.0, self._stale_after / 10)
        self._next_tickle = -math.inf
        self._failures = 0
        self._next_probe = -math.inf
        self._question_until: float | None = None
        self._question_id: str | None = None
        self._question_since = 0.0
        self._orders_in_flight = 0
        self._closed = threading.Event()  # ends real-time waits at close()
        self._speaking = threading.Lock()  # the keep-alive's turn to send
        self._request_listeners: Listeners[RequestRecord] = Listeners("on_request")
        self._question_listeners: Listeners[QuestionHold] = Listeners("on_question")
        self._alerts: AlertDesk | None = None
        self._keepalive_stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- what ibkr_api and users read -------------------------------------------------

    @property
    def gateway_url(self) -> str:
        """``https://host:port`` of the gateway (where the user logs in)."""
        return self._transport.gateway_url

    @property
    def state(self) -> SessionState:
        """The current state, after letting the clock speak (reset window, staleness).

        Never waits for a probe or a recovery another thread is running.
        """
        self._apply_clock()
        self._machine.deliver()
        return self._machine.state

    @property
    def account_id(self) -> str | None:
        """The account re-selected after every re-authentication."""
        return self._account_id

    @property
    def brokerage_generation(self) -> int:
        """Grows with every new brokerage session (snapshots, suppressions die with one)."""
        return self._generation

    @property
    def takes_over(self) -> bool:
        """``on_competing="take_over"``: a competing login is ended by ssodh/init with
        ``compete=true`` instead of waited out."""
        return self._take_over

    @property
    def coordinator(self) -> Coordinator:
        """What this manager shares with the other managers of its gateway."""
        return self._coordinator

    @property
    def pacer(self) -> Pacer | None:
        """The pacer every request goes through (None with ``pacing=False``)."""
        return self._pacer

    @property
    def trust(self) -> TrustDecision:
        """How the gateway's certificate is trusted (the stream's socket obeys the same)."""
        return self._transport.trust

    @property
    def quiet(self) -> bool:
        """An order POST or an order question is open: nothing else may reach the gateway
        from this manager (a request in between makes the gateway cancel the order)."""
        with self._lock:
            return self._must_stay_quiet()

    def on_transition(self, callback: TransitionListener) -> Callable[[], None]:
        """Call ``callback(old, new, reason)`` after every state change (outside the lock);
        returns a function that removes the callback."""
        return self._machine.on_transition(callback)

    def on_request(self, callback: Callable[[RequestRecord], object]) -> Callable[[], None]:
        """Call ``callback(record)`` after every request that went through the pacer (probes
        and keep-alive included): what a host's metrics count. Returns a remover; a
        callback that raises is logged and ignored. It runs on the requesting thread, maybe
        under the session's lock: keep it quick (count, don't send)."""
        return self._request_listeners.add(callback)

    def on_question(self, callback: Callable[[QuestionHold], object]) -> Callable[[], None]:
        """Call ``callback(hold)`` when an order question starts holding the session quiet
        and when the hold ends (answered, abandoned or expired); like ``on_request``, keep
        it quick. Returns a remover."""
        return self._question_listeners.add(callback)

    def on_alert(self, callback: Callable[[Alert], object]) -> Callable[[], None]:
        """Call ``callback(alert)`` when only a human can help, once per incident and once
        more when it is resolved (``ibkr_session.alerts``: no SSO login, a competing login
        longer than ``competing_alert_after`` seconds, IBKR's penalty box). Alerts arrive
        on a thread of their own, so the callback may be slow. Returns a remover."""
        return self.alerts.listen(callback)

    @property
    def alerts(self) -> AlertDesk:
        """The incidents of this gateway (``open_incidents``, ``flush()``), watched from
        the first time they are asked for."""
        with self._lock:
            if self._alerts is None:
                desk = AlertDesk(
                    self.gateway_url,
                    self.clock,
                    competing_after=self._competing_alert_after,
                    ledger=self._coordinator,
                )
                self._machine.on_transition(desk.saw_transition)
                self._request_listeners.add(desk.saw_request)
                state = self._machine.state  # a competing login already under way counts
                desk.saw_transition(state, state, "the state when alerts were asked for")
                self._alerts = desk
            return self._alerts

    def hear(self, status: AuthStatus, source: str) -> SessionState:
        """News about the brokerage session from elsewhere (the stream's ``sts``): the same
        verdict as a probe answer, without sending one."""
        with self._locked():
            self._apply_status(status, source, None)
        return self.state

    def note_contact(self) -> None:
        """The gateway confirmed the session another way (the stream's ``tic``): no need
        to doubt it for ``stale_after`` more seconds."""
        with self._locked():
            if self._machine.state is _S.AUTHENTICATED:
                self._confirm_contact()

    def ensure_ready(self) -> None:
        """Run the guard alone: recover and prime now, or raise what blocks ``/iserver``
        (the reset window, a competing login, a logged-out gateway)."""
        try:
            self._guard(_ACCOUNTS, _ACCOUNTS.method, _ACCOUNTS.template)
        finally:
            self._machine.deliver()

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
        row = endpoint_for(method, path)
        send = functools.partial(
            self._exchange, row, method, path, params=params, json=json, timeout=timeout
        )
        try:
            if not row.guarded:
                # No guard, but the same question of its answer: is it news about the
                # brokerage session it left in, or about one recovered while it travelled?
                return send(sent_in=self._generation)
            with self._order_flow(row):
                ticket = self._guard(row, method, path)
                try:
                    with self._account_in_use(row):
                        return send(sent_in=ticket.generation)
                except (NotAuthenticatedError, NotPrimedError) as exc:
                    # Refused without being acted on (the brokerage session died since the
                    # last probe, or is not primed): mending the session and sending the
                    # request once more is safe, orders included.
                    log.info(
                        "session.refused_before_acting", method=method, path=path, error=exc.msg
                    )
                    ticket = self._mend(row, method, path, ticket, exc)
                with self._account_in_use(row):
                    return send(sent_in=ticket.generation)
        finally:
            self._machine.deliver()

    def select_account(self, account_id: str) -> Any:
        """``POST /iserver/account``; the id is remembered and re-selected after re-auth."""
        account_id = _check_account(account_id)
        answer = self.request("POST", _SELECT.template, json={"acctId": account_id})
        with self._lock:
            self._account_id = account_id
        self._coordinator.select_account(account_id)
        return answer

    def remember_suppressed(self, message_ids: Iterable[str]) -> None:
        """Question ids to suppress again in every new brokerage session."""
        ids = list(message_ids) if not isinstance(message_ids, str) else [message_ids]
        if not ids or not all(isinstance(item, str) and item.strip() for item in ids):
            raise InvalidRequestError(
                f"message ids must be non-empty strings like 'o163', got {ids!r}",
                field="message_ids",
            )
        union = self._coordinator.remember_suppressed(item.strip() for item in ids)
        with self._lock:
            self._suppressed.update(dict.fromkeys(union))

    def forget_suppressed(self) -> None:
        """``/iserver/questions/suppress/reset`` was sent: suppress nothing again after a
        re-login (for every manager of the gateway: the reset is the gateway's)."""
        self._coordinator.forget_suppressed()
        with self._lock:
            self._suppressed.clear()

    def question_pending(self, reply_id: str) -> None:
        """An order question awaits its reply: send nothing extra for ``question_hold`` s.

        A new question while one is open is the answer to the first: IBKR asks in chains.
        """
        with self._lock:
            if self._question_id != reply_id:
                self._end_question_hold("answered")
                self._question_since = self.clock.monotonic()
                self._question_listeners.tell(QuestionHold(reply_id, "held"))
            self._question_id = reply_id
            self._question_until = self.clock.monotonic() + self._question_hold
        self._coordinator.acquire(QUESTION_LEASE, self._question_hold, self._wall())

    def question_answered(self) -> None:
        """The reply went out: keep-alive may resume."""
        self._release_question("answered")

    def _release_question(self, phase: str) -> None:
        with self._lock:
            self._end_question_hold(phase)
            self._question_id = None
            self._question_until = None
        self._coordinator.release(QUESTION_LEASE)

    def _end_question_hold(self, phase: str) -> None:
        """Tell ``on_question`` that the open hold ended (lock held); nothing if none is."""
        if self._question_id is not None:
            held = self.clock.monotonic() - self._question_since
            self._question_listeners.tell(QuestionHold(self._question_id, phase, held))

    def refresh(self) -> SessionState:
        """Probe now and return the resulting state.

        No probe inside a reset window or while an order question awaits its reply.
        """
        with self._locked():
            self._apply_clock()
            if self._machine.state is not _S.RESET_WINDOW and not self._must_stay_quiet():
                try:
                    self._probe()
                except IbkrError as exc:
                    log.warning("session.probe_failed", error=str(exc))
        return self.state

    # -- keep-alive -------------------------------------------------------------------

    def keepalive(self) -> None:
        """One keep-alive step: tickle when due, back off while the gateway is gone.

        One manager per gateway tickles (the keep-alive lease); the others rely on its
        contact. Failures are logged, never raised: this runs unattended. The decision is
        taken under the lock, the tickle is sent outside it, so a slow or paced tickle
        never blocks ``state`` readers, user calls or ``close()``; it holds only the
        speaking gate, which an order POST passes before it leaves, so no tickle can fall
        between an order question and its reply.
        """
        if self._alerts is not None:
            self._alerts.check()  # time alone can make a competing login worth an alert
        with self._speaking:  # no order flow starts while the keep-alive speaks
            with self._locked():
                self._apply_clock()
                if self._must_stay_quiet():
                    log.debug("session.keepalive_held", reply_id=self._question_id)
                    return
                now = self.clock.monotonic()
                disconnected = self._machine.state is _S.DISCONNECTED
                if now < (self._next_probe if disconnected else self._next_tickle):
                    return
                self._next_tickle = now + self._tickle_interval
            wall = self._wall()
            self._coordinator.heartbeat(wall, 3 * self._tickle_interval, {"url": self.gateway_url})
            if not disconnected and not self._coordinator.acquire(
                KEEPALIVE_LEASE, 2 * self._tickle_interval, wall
            ):
                return  # another manager of this gateway tickles for everyone
            try:
                if disconnected:
                    with self._locked():
                        self._probe(max_wait=_KEEPALIVE_MAX_WAIT)
                else:
                    self._exchange(
                        _TICKLE,
                        "POST",
                        _TICKLE.template,
                        sent_in=self._generation,
                        max_wait=_KEEPALIVE_MAX_WAIT,
                    )
            except ResetWindowError as exc:
                log.info("session.keepalive_in_reset_window", detail=str(exc))
            except RateLimitedError as exc:
                if exc.code == PACING_REFUSAL:
                    # Someone just tickled (a worker's own tickle() counts) or the box is on:
                    # the next step tries again; nothing failed, nothing was sent.
                    log.debug("session.keepalive_paced", detail=exc.msg)
                    self._next_tickle = self.clock.monotonic() + _KEEPALIVE_MAX_WAIT
                else:
                    log.warning("session.keepalive_failed", error=str(exc), state=self.state.name)
            except IbkrError as exc:
                log.warning("session.keepalive_failed", error=str(exc), state=self.state.name)
            finally:
                self._machine.deliver()

    def start(self) -> None:
        """Run ``keepalive`` on a daemon thread until ``stop()``."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._keepalive_stop = stop = threading.Event()  # this thread's own
            self._thread = threading.Thread(
                target=self._run, args=(stop,), name="ibkr-session-keepalive", daemon=True
            )
            self._thread.start()

    @property
    def keeping_alive(self) -> bool:
        """Whether the keep-alive thread of ``start()`` is running."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def stop(self) -> None:
        """Stop the keep-alive thread and give back the keep-alive lease, so another
        manager of the gateway takes over at once.

        Waits for the thread's current step at most ``_STOP_WAIT`` seconds: a tickle stuck
        on a hanging gateway must not hold a shutdown (the thread is a daemon and ends
        after that step on its own).
        """
        self._keepalive_stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(_STOP_WAIT)
            if thread.is_alive():
                log.info("session.keepalive_left_finishing", seconds=_STOP_WAIT)
        self._thread = None
        self._coordinator.release(KEEPALIVE_LEASE)

    def close(self) -> None:
        """Stop the keep-alive thread, leave the coordination and close the connections."""
        self._closed.set()
        self.stop()
        if self._alerts is not None:
            self._alerts.close()
        self._coordinator.leave()
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

    def _run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.keepalive()
            except Exception:
                log.exception("session.keepalive_crashed")
            if stop.wait(min(_POLL_SECONDS, self._tickle_interval)):
                return

    # -- the guard and recovery -------------------------------------------------------

    def _guard(self, row: Endpoint, method: str, path: str) -> _Ticket:
        """Make ``/iserver`` usable or raise; says which session the request will meet.

        Asks the core for each step and performs it, until the core says proceed.
        """
        with self._locked():
            done: set[Step] = set()
            while True:
                window = self._apply_clock()  # the window is asked once per step
                step = core.next_step(
                    self._machine.state,
                    in_window=window is not None,
                    question_pending=self._question_is_pending(),
                    primed=self._primed_generation == self._generation,
                    take_over=self._take_over,
                    done=frozenset(done),
                )
                if step is Step.PROCEED:
                    return _Ticket(self._generation, self._primings)
                done.add(step)
                if step is Step.REFUSE_WINDOW:
                    assert window is not None
                    raise self._reset_window_error(window[1])
                if step is Step.PROBE:
                    self._unsent_if_unreachable(self._probe)
                elif step in (Step.RECOVER, Step.TAKE_OVER):
                    self._unsent_if_unreachable(
                        functools.partial(self._recover, compete=step is Step.TAKE_OVER)
                    )
                elif step is Step.PRIME:
                    self._unsent_if_unreachable(self._prime)
                elif step is Step.REFUSE_COMPETING:
                    raise CompetingSessionError(
                        "competing",
                        "another IBKR platform (TWS, mobile, WebTrader) holds the brokerage "
                        "session: competing session; close it, or use on_competing='take_over'",
                        method=method,
                        path=path,
                    )
                else:
                    raise NotAuthenticatedError(
                        200,
                        f"the brokerage session could not be re-established; log in at "
                        f"{self.gateway_url}",
                        method=method,
                        path=path,
                    )

    @staticmethod
    def _unsent_if_unreachable(step: Callable[[], None]) -> None:
        """A guard step that fails to reach the gateway: the caller's request never left.

        (A probe that timed out may have reached the gateway; the order behind it did not.)
        """
        try:
            step()
        except GatewayUnreachableError as exc:
            if not exc.maybe_sent:
                raise
            raise GatewayUnreachableError(
                f"{exc} (while checking the session: the request itself was not sent)",
                maybe_sent=False,
            ) from exc

    def _probe(self, max_wait: float | None = None) -> None:
        answer = self._exchange(_AUTH_STATUS, "POST", _AUTH_STATUS.template, max_wait=max_wait)
        if AuthStatus.from_answer(answer) is None:
            raise IbkrAPIError(
                200, "unreadable auth status answer", path=_AUTH_STATUS.template, body=answer
            )

    def _recover(self, *, compete: bool) -> None:
        """ssodh/init, once per lost brokerage session for the whole fleet.

        A manager that finds another one recovering waits for its lease to end, then
        probes: the other's new session is its own.
        """
        if not self._coordinator.acquire(RECOVERY_LEASE, _RECOVERY_LEASE_SECONDS, self._wall()):
            self._await_other_recovery()
            self._probe()
            return
        try:
            log.info("session.recovering", compete=compete)
            self._exchange(
                _SSODH_INIT,
                "POST",
                _SSODH_INIT.template,
                json={"publish": True, "compete": compete},
            )
        finally:
            self._coordinator.release(RECOVERY_LEASE)

    def _await_other_recovery(self) -> None:
        """Real time, bounded: the other's answer ends it, not this manager's clock."""
        deadline = time.monotonic() + _RECOVERY_LEASE_SECONDS
        while self._coordinator.holder_of(RECOVERY_LEASE, self._wall()) is not None:
            if time.monotonic() >= deadline:
                return
            if self._closed.wait(0.05):
                return

    def _prime(self) -> None:
        """What every new brokerage session needs before orders, snapshots and queries,
        done once per generation for every manager of the gateway."""
        shared = self._coordinator.session()
        if shared.primed_generation != self._generation or shared.generation != self._generation:
            self._exchange(_ACCOUNTS, "GET", _ACCOUNTS.template)
            if self._account_id is not None:
                self._exchange(_SELECT, "POST", _SELECT.template, json={"acctId": self._account_id})
            self._coordinator.select_account(self._account_id)
            ids = list(dict.fromkeys([*self._suppressed, *shared.suppressed]))
            for start in range(0, len(ids), _SUPPRESS_BATCH):
                batch = ids[start : start + _SUPPRESS_BATCH]
                self._exchange(_SUPPRESS, "POST", _SUPPRESS.template, json={"messageIds": batch})
            self._coordinator.mark_primed(self._generation)
        self._primed_generation = self._generation
        self._primings += 1
        log.info("session.primed", generation=self._generation)
        log.debug("session.primed_account", account_id=self._account_id)

    def _mend(
        self, row: Endpoint, method: str, path: str, refused: _Ticket, refusal: IbkrAPIError
    ) -> _Ticket:
        """Doubt what the refusal disproved, then run the guard again: it recovers and
        primes, or raises what only a human can fix.

        When another thread renewed (or primed) the session after the refused request left,
        the refusal is old news: the guard alone confirms that, without doing it twice.
        """
        with self._locked():
            if isinstance(refusal, NotAuthenticatedError):
                if self._generation == refused.generation:
                    self._probe()
            elif self._primings == refused.primings:
                # The gateway says it is not primed, whatever anyone remembers.
                self._primed_generation = None
                self._coordinator.mark_primed(None)
            return self._guard(row, method, path)

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
        row: Endpoint,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        json: object = None,
        timeout: float | None = None,
        sent_in: int | None = None,
        max_wait: float | None = None,
    ) -> Any:
        """Pacer, then transport; every request (probes included) goes through here.

        ``sent_in`` is the brokerage generation a guarded request was sent into, so that an
        answer arriving after another thread renewed the session is not taken for news.
        """
        grant: Grant | None = None
        asked = granted = self.clock.monotonic()
        outcome = "ok"
        retry_after = 0.0
        try:
            with self._paced(row, method, path, max_wait) as grant:
                granted = self.clock.monotonic()
                answer = self._transport.send(
                    method, path, params=params, json=json, timeout=timeout
                )
        except InvalidRequestError:
            raise  # refused before sending: the gateway said nothing to learn from
        except IbkrError as exc:
            outcome = _outcome(exc)
            if isinstance(exc, RateLimitedError) and exc.code == 429:
                retry_after = exc.retry_after
                if self._pacer is not None:
                    self._pacer.penalize(retry_after)  # the gateway's 429, not our pacer's
            self._learn_from_failure(exc, row, sent_in)
            raise
        finally:
            if grant is not None:
                self._hear_from_others(grant)
            self._tell_request(row, outcome, asked, granted, retry_after)
        self._learn_from_answer(row, answer, sent_in)
        return answer

    @contextlib.contextmanager
    def _paced(
        self, row: Endpoint, method: str, path: str, max_wait: float | None
    ) -> Iterator[Grant | None]:
        if self._pacer is None:
            yield None
            return
        with self._pacer.slot(method, path, opens_question=row.asks, max_wait=max_wait) as grant:
            yield grant

    def _tell_request(
        self, row: Endpoint, outcome: str, asked: float, granted: float, retry_after: float
    ) -> None:
        if not self._request_listeners:
            return
        done = self.clock.monotonic()
        if outcome == "paced_out":  # refused while waiting: it never left
            granted = done
        self._request_listeners.tell(
            RequestRecord(
                row.name, row.kind.value, outcome, granted - asked, done - granted, retry_after
            )
        )

    def _is_news(self, grant: Grant) -> bool:
        mine = self._last_contact_shared
        newer = [at for at in (grant.contact, grant.learned and grant.learned[1]) if at]
        return grant.generation > self._generation or any(mine is None or at > mine for at in newer)

    def _hear_from_others(self, grant: Grant) -> None:
        """What the other managers of this gateway know that this one does not: a renewed
        brokerage session (its generation), a confirmed contact with the current one, or
        that it is gone or competing.

        A newer generation means snapshots, suppressions and priming of the old one died
        (the shared priming tells whether this generation is primed already); a peer's
        confirmation of the same generation means an authenticated answer here is that
        same session, not a new one.
        """
        if not self._is_news(grant):
            return  # the usual case, decided without the lock: every request passes here
        with self._locked():
            if grant.generation > self._generation:
                log.info("session.generation_from_peer", generation=grant.generation)
                self._generation = grant.generation
            mine = self._last_contact_shared
            learned = grant.learned
            if learned is not None and learned[0] == _S.AUTHENTICATED.name:
                if grant.contact is not None and (mine is None or grant.contact > mine):
                    self._confirm_contact(at=grant.contact)
                return
            if learned is None or mine is None or learned[1] <= mine:
                return
            state = _LEARNABLE.get(learned[0])
            if state is not None and self._machine.state in (_S.AUTHENTICATED, _S.STALE):
                self._known = state
                self._machine.transition(state, "learned from another manager of the gateway")

    @contextlib.contextmanager
    def _account_in_use(self, row: Endpoint) -> Iterator[None]:
        """For a request that depends on the gateway's selected account: make it this
        manager's account, and keep any other account from being selected until the
        answer is back (workers of one user with different accounts share one gateway)."""
        if not row.account_bound or self._account_id is None:
            yield
            return
        account = self._account_id
        while True:
            use = self._coordinator.use_account(account, self._wall())
            if not isinstance(use, Wait):
                break
            # Real time: another's answer frees it, not the clock; close() ends the wait.
            if self._closed.wait(use.seconds):
                raise GatewayUnreachableError(
                    "the session was closed while waiting for the account", maybe_sent=False
                )
        must_select, token = use
        try:
            if must_select:
                self._exchange(_SELECT, "POST", _SELECT.template, json={"acctId": account})
                self._coordinator.select_account(account)
            yield
        finally:
            self._coordinator.done_with_account(token)

    @contextlib.contextmanager
    def _order_flow(self, row: Endpoint) -> Iterator[None]:
        """Hold the keep-alive from before an order POST leaves until its answer is read.

        Its answer may be a question, and any request between a question and its reply
        makes the gateway cancel the order; the hold closes the gap before the caller
        (or ``_learn_from_answer``) can know there is a question.
        """
        if not row.asks:
            yield
            return
        with self._speaking, self._lock:  # a tickle on its way finishes first
            self._orders_in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._orders_in_flight -= 1

    def _learn_from_answer(self, row: Endpoint, answer: Any, sent_in: int | None) -> None:
        with self._locked():
            self._failures = 0
            self._next_probe = -math.inf
            if row.asks:
                self._note_question(row, answer)
            status = AuthStatus.from_answer(answer) if row.name in _STATUS_ROWS else None
            if status is not None:
                self._apply_status(status, row.template, sent_in)
            elif row.guarded and self._machine.state is _S.AUTHENTICATED:
                self._confirm_contact()

    def _note_question(self, row: Endpoint, answer: Any) -> None:
        """An order answer that asks a question holds the keep-alive until the reply."""
        question = order_question(answer)
        if question is not None:
            self.question_pending(question[0])
        elif row.kind is Kind.REPLY or self._question_id is None:
            self.question_answered()

    def _learn_from_failure(self, exc: IbkrError, row: Endpoint, sent_in: int | None) -> None:
        with self._locked():
            if row.kind is Kind.REPLY or (row.asks and self._question_id is None):
                # Answered and lost, or refused: either way that question is no longer open,
                # and no answer will come to say so.
                self._release_question("abandoned")
            window = self._window()
            verdict = core.read_failure(
                exc,
                in_window=window is not None,
                sent_generation=sent_in,
                generation=self._generation,
            )
            if verdict.reset_window and window is not None and isinstance(exc, IbkrAPIError):
                # "no session" or a 5xx during the reset is the reset, not a logout: say so.
                raise self._reset_window_error(window[1], answered=exc) from exc
            if verdict.old_news:
                log.info("session.refusal_predates_renewal", refused_in=sent_in)
            if verdict.back_off:
                self._next_probe = self.clock.monotonic() + core.backoff_delay(
                    self._failures,
                    initial=self._backoff_initial,
                    cap=self._backoff_max,
                    rng=self._rng,
                )
                self._failures += 1
            elif isinstance(exc, IbkrAPIError):
                self._failures = 0
                self._next_probe = -math.inf
            if verdict.state is not None:
                self._move(verdict.state, verdict.reason)

    def _apply_status(self, status: AuthStatus, source: str, sent_in: int | None) -> None:
        if self._window() is not None:
            return
        if sent_in is not None and sent_in != self._generation and not status.authenticated:
            # Bad news about a brokerage session that was renewed while it travelled.
            log.info("session.status_predates_renewal", sent_in=sent_in, source=source)
            return
        known = self._known if self._last_contact_at is not None else _S.UNKNOWN
        window_passed = self._last_contact_at is not None and self.schedule.window_passed(
            self._last_contact_at, self.clock.now()
        )
        verdict = core.read_status(known, status, source, window_passed=window_passed)
        if verdict.new_session:
            self._generation = self._coordinator.new_generation(self._generation)
            log.info("session.new_brokerage_session", generation=self._generation)
        self._move(verdict.state, verdict.reason)
        if verdict.confirms_contact:
            self._confirm_contact()

    def _move(self, state: SessionState, reason: str) -> None:
        """The one place the manager changes state; remembers what the session was known
        to be before the gateway went out of reach, and tells the other managers of the
        gateway what it learned about the brokerage session (good news clears bad)."""
        if state is not _S.DISCONNECTED and state is not _S.RESET_WINDOW:
            self._known = state
        changed = self._machine.transition(state, reason)
        if changed and state in _SHARED_NEWS:
            self._coordinator.note_state(state.name, self._wall(), reason)

    def _confirm_contact(self, at: float | None = None) -> None:
        """The session was confirmed now (or at ``at``, epoch s, by another manager).

        Shared with the other managers at most every few seconds: a contact is news to
        them only when it saves them a probe.
        """
        wall = self._wall()
        ago = 0.0 if at is None else max(0.0, wall - at)
        self._last_contact = self.clock.monotonic() - ago
        self._last_contact_at = self.clock.now() - _dt.timedelta(seconds=ago)
        self._last_contact_shared = wall - ago
        self._known = _S.AUTHENTICATED
        if at is None and wall - self._contact_shared_at >= self._share_contact_every:
            self._contact_shared_at = wall
            self._coordinator.note_contact(wall)

    # -- the clock's part of the state machine -------------------------------------------

    def _apply_clock(self) -> tuple[_dt.datetime, _dt.datetime] | None:
        """Let the clock move the state (window, staleness); the window it saw, if any."""
        now = self.clock.now()
        window = self.schedule.window_at(now)
        quiet = None if self._last_contact is None else self.clock.monotonic() - self._last_contact
        window_passed = self._last_contact_at is not None and self.schedule.window_passed(
            self._last_contact_at, now
        )
        move = core.clock_transition(
            self._machine.state,
            in_window=window is not None,
            quiet_for=quiet,
            stale_after=self._stale_after,
            window_passed=window_passed,
        )
        if move is not None and move[0] is _S.STALE:
            shared = self._fresh_shared_contact()
            if shared is not None:
                self._confirm_contact(at=shared)
                return window
        if move is not None:
            self._machine.transition(*move)
        return window

    def _fresh_shared_contact(self) -> float | None:
        """When another manager of this gateway (the keep-alive holder) confirmed the
        session recently enough that there is no reason to doubt it here (epoch s)."""
        contact = self._coordinator.session().last_contact
        if contact is None or not 0 <= self._wall() - contact < self._stale_after:
            return None
        seen = self._on_clock(contact)
        return None if self.schedule.window_passed(seen, self.clock.now()) else contact

    def _window(self) -> tuple[_dt.datetime, _dt.datetime] | None:
        return self.schedule.window_at(self.clock.now())

    def _wall(self) -> float:
        """Shared time (``Coordinator.now``), the base of everything told to the peers."""
        return self._coordinator.now()

    def _on_clock(self, shared: float) -> _dt.datetime:
        """A shared time as a reading of this manager's clock (they differ by a shift)."""
        return self.clock.now() - _dt.timedelta(seconds=self._wall() - shared)

    def _must_stay_quiet(self) -> bool:
        """No extra traffic of ours while an order POST or its question is open."""
        return self._orders_in_flight > 0 or self._question_is_pending()

    def _question_is_pending(self) -> bool:
        if self._question_until is None:
            return False
        if self.clock.monotonic() < self._question_until:
            return True
        log.warning("session.question_hold_expired", reply_id=self._question_id)
        self._release_question("expired")
        return False

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """The manager's lock; listeners hear of transitions once the outermost holder
        lets go."""
        depth = getattr(self._depth, "value", 0)
        self._depth.value = depth + 1
        try:
            with self._lock:
                yield
        finally:
            self._depth.value = depth
        if depth == 0:
            self._machine.deliver()


def _outcome(error: IbkrError) -> str:
    if isinstance(error, RateLimitedError):
        return "paced_out" if error.code == PACING_REFUSAL else "rate_limited"
    return type(error).__name__


@dataclass(frozen=True)
class _Ticket:
    """Which brokerage session, and which priming of it, a guarded request was sent into."""

    generation: int
    primings: int


def _said(answer: IbkrAPIError) -> str:
    """What the gateway itself said (not our advice about it), for messages."""
    body = answer.body
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return f"HTTP {answer.code} {body['error']!r}"
    return f"HTTP {answer.code}"


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
