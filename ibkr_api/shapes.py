"""The gateway's JSON, described for type checkers: one ``TypedDict`` per answer shape.

``IbkrClient``'s methods are annotated with these, so an IDE shows the keys and mypy
checks them, while the value stays the plain ``dict`` (or ``list``) the gateway sent:
nothing is converted, and the reference's recipes index into it unchanged. Every
TypedDict is ``total=False``: the gateway leaves keys out (and adds others) from one
build to the next, so presence is never promised; read with ``.get`` when unsure. For
numbers parsed out of IBKR's strings (``"1,300"``, ``"C168.42"``) use the pydantic views
(``ibkr_api.models``, ``ibkr_api.views``).

Shapes come from IBKR's OpenAPI spec 2.28, IBKR-FACTS §4 and the recorded answers in
``reference/recorded``. Keys that are not Python identifiers (snapshot tags ``"31"``)
use the functional ``TypedDict`` form.
"""

from __future__ import annotations

from typing import Any, TypedDict

__all__ = [
    "AccountSummaryAnswer",
    "AlertAnswer",
    "AlertRow",
    "AllocationAnswer",
    "AuthStatusAnswer",
    "BrokerageAccountsAnswer",
    "CancelAnswer",
    "ContractDetailsAnswer",
    "ContractRulesAnswer",
    "ContractSearchRow",
    "FutureRow",
    "HistoryAnswer",
    "HistoryBar",
    "LedgerEntryAnswer",
    "LiveOrder",
    "LiveOrdersAnswer",
    "LogoutAnswer",
    "MessageAnswer",
    "NotificationRow",
    "OrderPreviewAnswer",
    "OrderReplyItem",
    "OrderStatusAnswer",
    "PerformanceAnswer",
    "PnlAnswer",
    "PnlRow",
    "PortfolioAccount",
    "PortfolioPosition",
    "ScannerContract",
    "ScannerParamsAnswer",
    "ScannerRunAnswer",
    "SecdefAnswer",
    "SecdefInfoRow",
    "SelectAccountAnswer",
    "SnapshotRow",
    "SsoValidateAnswer",
    "StatusAnswer",
    "StockContract",
    "StockRow",
    "StrikesAnswer",
    "SummaryValue",
    "TickleAnswer",
    "TradeRow",
    "TradingScheduleRow",
    "TransactionsAnswer",
    "UnsubscribeAllAnswer",
    "UnsubscribeAnswer",
    "WatchlistAnswer",
    "WatchlistsAnswer",
]


# --- session -----------------------------------------------------------------------------


class AuthStatusAnswer(TypedDict, total=False):
    """``auth_status()``; also ``tickle()["iserver"]["authStatus"]``."""

    authenticated: bool
    competing: bool
    connected: bool
    established: bool
    message: str
    MAC: str
    serverInfo: dict[str, Any]
    hardware_info: str
    fail: str


class _TickleIserver(TypedDict, total=False):
    authStatus: AuthStatusAnswer


class TickleAnswer(TypedDict, total=False):
    """``tickle()``."""

    session: str
    ssoExpires: int
    collission: bool
    userId: int
    hmds: dict[str, Any]
    iserver: _TickleIserver


class SelectAccountAnswer(TypedDict, total=False):
    """``select_account()``: ``{"set": true, "acctId"}`` or ``{"success": "Account already
    set"}``."""

    set: bool
    acctId: str
    success: str


class SsoValidateAnswer(TypedDict, total=False):
    """``validate_sso()``."""

    USER_ID: int
    USER_NAME: str
    RESULT: bool
    AUTH_TIME: int
    SF_ENABLED: bool
    IS_FREE_TRIAL: bool
    CREDENTIAL: str
    IP: str
    EXPIRES: int
    LANDING_APP: str
    IS_MASTER: bool
    lastAccessed: int
    LOGIN_TYPE: int
    PAPER_USER_NAME: str
    features: dict[str, Any]
    region: str


class LogoutAnswer(TypedDict, total=False):
    """``logout()``: ``{"status": true}``."""

    status: bool


class StatusAnswer(TypedDict, total=False):
    """``suppress_messages()`` / ``reset_suppressed_messages()``: ``{"status":
    "submitted"}``."""

    status: str


class MessageAnswer(TypedDict, total=False):
    """``invalidate_positions()``: ``{"message": "success"}``."""

    message: str


# --- accounts and portfolio --------------------------------------------------------------


class PortfolioAccount(TypedDict, total=False):
    """One element of ``get_accounts()`` / ``get_subaccounts()``."""

    id: str
    accountId: str
    accountVan: str
    accountTitle: str
    displayName: str
    accountAlias: str | None
    accountStatus: int
    currency: str
    type: str
    tradingType: str
    faclient: bool
    clearingStatus: str
    covestor: bool
    parent: dict[str, Any]
    desc: str


class SummaryValue(TypedDict, total=False):
    """One value of ``get_summary()`` (keyed by lower-case names like ``netliquidation``)."""

    amount: float | None
    currency: str | None
    isNull: bool
    timestamp: int
    value: str | None
    severity: int


class LedgerEntryAnswer(TypedDict, total=False):
    """One currency (or ``BASE``) of ``get_ledger()``; ``timestamp`` in **seconds**."""

    cashbalance: float
    netliquidationvalue: float
    unrealizedpnl: float
    realizedpnl: float
    stockmarketvalue: float
    settledcash: float
    exchangerate: float
    interest: float
    dividends: float
    currency: str
    key: str
    timestamp: int


class PortfolioPosition(TypedDict, total=False):
    """One row of ``get_positions()`` / ``get_position()``."""

    acctId: str
    conid: int
    contractDesc: str
    position: float
    mktPrice: float
    mktValue: float
    currency: str
    avgCost: float
    avgPrice: float
    realizedPnl: float
    unrealizedPnl: float
    assetClass: str
    expiry: str | None
    putOrCall: str | None
    strike: float | str
    multiplier: float | None
    undConid: int
    ticker: str
    name: str
    listingExchange: str
    sector: str
    group: str


class BrokerageAccountsAnswer(TypedDict, total=False):
    """``get_brokerage_accounts()``: ``GET /iserver/accounts``."""

    accounts: list[str]
    selectedAccount: str
    acctProps: dict[str, Any]
    aliases: dict[str, str]
    allowFeatures: dict[str, Any]
    chartPeriods: dict[str, Any]
    groups: list[Any]
    profiles: list[Any]
    serverInfo: dict[str, Any]
    sessionId: str
    isFT: bool
    isPaper: bool


class AccountSummaryAnswer(TypedDict, total=False):
    """``get_account_balances(acct)``: ``/iserver/account/{acct}/summary``. The sub-pages
    (``page="balances"``, ...) answer ``{"total": {...}, "securities": {...}, ...}`` of
    strings instead; they come back as the gateway sends them."""

    accountType: str
    status: str
    balance: float
    SMA: float
    buyingPower: float
    availableFunds: float
    excessLiquidity: float
    netLiquidationValue: float
    equityWithLoanValue: float
    regTLoan: float
    securitiesGVP: float
    totalCashValue: float
    accruedInterest: float
    regTMargin: float
    initialMargin: float
    maintenanceMargin: float
    cashBalances: list[dict[str, Any]]


class AllocationAnswer(TypedDict, total=False):
    """``get_allocation()``: each of ``assetClass``, ``sector``, ``group`` is ``{"long":
    {name: value}, "short": {name: value}}``."""

    assetClass: dict[str, dict[str, float]]
    sector: dict[str, dict[str, float]]
    group: dict[str, dict[str, float]]


class PnlRow(TypedDict, total=False):
    """One ``"<acct>.Core"`` row of ``get_pnl()``: daily, unrealized, net liquidation,
    excess liquidity, market value."""

    rowType: int
    dpl: float
    nl: float
    upl: float
    uel: float
    el: float
    mv: float


class PnlAnswer(TypedDict, total=False):
    """``get_pnl()``: ``{"upnl": {"U1234567.Core": {...}}}`` (empty at first)."""

    upnl: dict[str, PnlRow]


# --- market data -------------------------------------------------------------------------

SnapshotRow = TypedDict(
    "SnapshotRow",
    {
        "conid": int,
        "conidEx": str,
        "server_id": str,
        "_updated": int,
        "31": str,
        "84": str,
        "86": str,
        "88": str,
        "85": str,
        "7059": str,
        "87": str,
        "7762": str,
        "55": str,
        "70": str,
        "71": str,
        "82": str,
        "83": str,
        "7295": str,
        "7296": str,
        "7741": str,
        "6509": str,
        "6119": str,
    },
    total=False,
)
"""One row of ``get_market_snapshot()``: values are **strings** (``"1,300"``,
``"C168.42"``); ``Quote`` parses them."""


class HistoryBar(TypedDict, total=False):
    """One bar of ``get_historical_data()["data"]``; ``t`` in epoch milliseconds."""

    o: float
    h: float
    l: float  # noqa: E741 - the gateway's key
    c: float
    v: float
    t: int


class HistoryAnswer(TypedDict, total=False):
    """``get_historical_data()``."""

    serverId: str
    symbol: str
    text: str
    priceFactor: int
    startTime: str
    high: str
    low: str
    timePeriod: str
    barLength: int
    mdAvailability: str
    outsideRth: bool
    volumeFactor: int
    data: list[HistoryBar]
    points: int
    travelTime: int


class UnsubscribeAnswer(TypedDict, total=False):
    """One answer of ``unsubscribe_market_data()``: ``{"success": true}``."""

    success: bool


class UnsubscribeAllAnswer(TypedDict, total=False):
    """``unsubscribe_all_market_data()``: ``{"unsubscribed": true}``."""

    unsubscribed: bool


class ScannerParamsAnswer(TypedDict, total=False):
    """``get_scanner_params()``."""

    scan_type_list: list[dict[str, Any]]
    instrument_list: list[dict[str, Any]]
    filter_list: list[dict[str, Any]]
    location_tree: list[dict[str, Any]]


class ScannerContract(TypedDict, total=False):
    """One contract of ``run_scanner()["contracts"]``."""

    server_id: str
    column_name: str
    symbol: str
    conidex: str
    con_id: int
    available_chart_periods: str
    company_name: str
    contract_description_1: str
    listing_exchange: str
    sec_type: str
    scan_data: str


class ScannerRunAnswer(TypedDict, total=False):
    """``run_scanner()``."""

    contracts: list[ScannerContract]
    scan_data_column_name: str


# --- contracts ---------------------------------------------------------------------------


class ContractSearchRow(TypedDict, total=False):
    """One row of ``search_contract()``; ``conid`` is a **string**."""

    conid: str
    companyHeader: str
    companyName: str
    symbol: str
    description: str | None
    restricted: str | None
    sections: list[dict[str, Any]]
    opt: str
    war: str
    fop: str


class ContractDetailsAnswer(TypedDict, total=False):
    """``get_contract_details()``."""

    con_id: int
    symbol: str
    instrument_type: str
    exchange: str
    valid_exchanges: str
    currency: str
    company_name: str
    local_symbol: str
    trading_class: str
    multiplier: str
    r_t_h: bool
    smart_available: bool
    cusip: str | None
    maturity_date: str | None
    underlying_con_id: int
    text: str | None


class StockContract(TypedDict, total=False):
    conid: int
    exchange: str
    isUS: bool


class StockRow(TypedDict, total=False):
    """One entry of ``search_stocks()[symbol]``."""

    name: str
    chineseName: str
    assetClass: str
    contracts: list[StockContract]


class FutureRow(TypedDict, total=False):
    """One entry of ``search_futures()[symbol]``; dates as ``YYYYMMDD`` integers."""

    symbol: str
    conid: int
    underlyingConid: int
    expirationDate: int
    ltd: int
    shortFuturesCutOff: int
    longFuturesCutOff: int


class SecdefAnswer(TypedDict, total=False):
    """``get_secdef()``: ``{"secdef": [...]}`` (split requests merged into one list)."""

    secdef: list[dict[str, Any]]


class TradingScheduleRow(TypedDict, total=False):
    """One venue of ``get_trading_schedule()``."""

    id: str
    tradeVenueId: str
    exchange: str
    description: str
    timezone: str
    schedules: list[dict[str, Any]]


class StrikesAnswer(TypedDict, total=False):
    """``get_option_strikes()``: ``{"call": [70.0, ...], "put": [...]}``."""

    call: list[float]
    put: list[float]


class SecdefInfoRow(TypedDict, total=False):
    """One row of ``get_secdef_info()`` / ``get_option_chain()``."""

    conid: int
    ticker: str
    secType: str
    listingExchange: str
    exchange: str
    companyName: str
    currency: str
    validExchanges: str
    priceRendering: Any
    maturityDate: str | None
    right: str
    strike: float
    desc1: str
    desc2: str
    multiplier: str
    tradingClass: str


class ContractRulesAnswer(TypedDict, total=False):
    """``get_contract_rules()``."""

    algoEligible: bool
    allOrNoneEligible: bool
    canTradeAcctIds: list[str]
    error: str | None
    orderTypes: list[str]
    orderTypesOutside: list[str]
    orderDefaults: dict[str, Any]
    defaultSize: float
    sizeIncrement: float
    tifTypes: list[str]
    tifDefaults: dict[str, Any]
    limitPrice: float
    stopprice: float
    preview: bool
    increment: float
    incrementDigits: int
    incrementRules: list[dict[str, Any]]
    negativeCapable: bool


# --- orders ------------------------------------------------------------------------------


class LiveOrder(TypedDict, total=False):
    """One order of ``get_orders()["orders"]``; ``order_ref`` is the cOID."""

    acct: str
    account: str
    orderId: int
    conid: int
    conidex: str
    ticker: str
    secType: str
    side: str
    status: str
    orderType: str
    origOrderType: str
    totalSize: float
    filledQuantity: float
    remainingQuantity: float
    price: float | str
    avgPrice: float | str
    order_ref: str
    timeInForce: str
    lastExecutionTime: str
    lastExecutionTime_r: int
    parentId: int
    companyName: str
    listingExchange: str
    orderDesc: str
    sizeAndFills: str


class LiveOrdersAnswer(TypedDict, total=False):
    """``get_orders()`` / ``get_filled_orders()``."""

    orders: list[LiveOrder]
    snapshot: bool


class OrderReplyItem(TypedDict, total=False):
    """One element of an order answer (``place_order``, ``modify_order``,
    ``reply_to_order``, ``place_orders``, ``place_bracket_order``): a success
    (``order_id``, ``order_status``) or a question (``id``, ``message``, ``messageIds``).
    ``reconciled`` marks an order found again after a lost answer; ``coid`` (multi-leg
    groups) names the leg a reconciled row belongs to."""

    order_id: str
    order_status: str
    encrypt_message: str
    parent_order_id: str
    local_order_id: str
    id: str
    message: list[str]
    isSuppressed: bool
    messageIds: list[str]
    messageOptions: list[Any]
    reconciled: bool
    coid: str


class CancelAnswer(TypedDict, total=False):
    """``cancel_order()``: an acknowledgement, not a confirmation."""

    msg: str
    order_id: int | str
    conid: int
    account: str


class OrderStatusAnswer(TypedDict, total=False):
    """``get_order_status()``: sizes and prices are **strings** (``OrderStatus`` parses)."""

    sub_type: str | None
    request_id: str
    server_id: str
    order_id: int
    conidex: str
    conid: int
    symbol: str
    side: str
    contract_description_1: str
    listing_exchange: str
    company_name: str
    size: str
    total_size: str
    currency: str
    account: str
    order_type: str
    cum_fill: str
    order_status: str
    order_status_description: str
    tif: str
    sec_type: str
    order_description: str
    order_not_editable: bool
    cannot_cancel_order: bool
    child_order_type: str
    average_price: str
    order_time: str


class TradeRow(TypedDict, total=False):
    """One execution of ``get_trades()``; ``order_ref`` is the order's cOID."""

    execution_id: str
    symbol: str
    side: str
    order_description: str
    trade_time: str
    trade_time_r: int
    size: float | str
    price: float | str
    order_ref: str
    submitter: str
    exchange: str
    commission: float | str
    net_amount: float
    account: str
    accountCode: str
    company_name: str
    contract_description_1: str
    sec_type: str
    listing_exchange: str
    conid: int | str
    conidEx: str
    order_id: int


class _PreviewFigures(TypedDict, total=False):
    current: str
    change: str
    after: str


class _PreviewAmount(TypedDict, total=False):
    amount: str
    commission: str
    total: str


class OrderPreviewAnswer(TypedDict, total=False):
    """``preview_order()``: what the order would do to the account (strings)."""

    amount: _PreviewAmount
    equity: _PreviewFigures
    initial: _PreviewFigures
    maintenance: _PreviewFigures
    position: _PreviewFigures
    warn: str | None
    error: str | None


# --- alerts, watchlists, notifications, portfolio analyst --------------------------------


class AlertRow(TypedDict, total=False):
    """One alert of ``get_alerts()``."""

    order_id: int
    account: str
    alert_name: str
    alert_active: int
    order_time: str
    alert_triggered: bool
    alert_repeatable: int


class AlertAnswer(TypedDict, total=False):
    """``create_alert()`` / ``delete_alert()``."""

    request_id: int | None
    order_id: int
    success: bool
    text: str
    order_status: str | None
    warning_message: str | None
    failure_list: str | None


class WatchlistsAnswer(TypedDict, total=False):
    """``get_watchlists()``: ``data.user_lists`` lists them."""

    data: dict[str, Any]
    action: str
    MID: str


class WatchlistAnswer(TypedDict, total=False):
    """``create_watchlist()``; ``delete_watchlist()`` answers ``{"data": {"deleted": id},
    "action", "MID"}``."""

    id: str
    hash: str
    name: str
    readOnly: bool
    instruments: list[dict[str, Any]]
    data: dict[str, Any]
    action: str
    MID: str


class NotificationRow(TypedDict, total=False):
    """One of ``get_notifications()``: ``R`` read flag, ``D`` date, ``MS`` subject,
    ``MD`` body, ``ID`` id, ``HT`` HTML flag, ``FC`` category."""

    R: str
    D: str
    MS: str
    MD: str
    ID: str
    HT: int
    FC: str


class PerformanceAnswer(TypedDict, total=False):
    """``get_performance()``: NAV, cumulative and period returns per account."""

    currencyType: str
    rc: int
    nav: dict[str, Any]
    nd: int
    cps: dict[str, Any]
    tpps: dict[str, Any]
    id: str
    included: list[str]
    pm: str


TransactionsAnswer = TypedDict(
    "TransactionsAnswer",
    {
        "rc": int,
        "nd": int,
        "rpnl": dict[str, Any],
        "currency": str,
        "from": int,
        "to": int,
        "id": str,
        "includesRealTime": bool,
        "transactions": list[dict[str, Any]],
    },
    total=False,
)
"""``get_transactions()``: ``from`` / ``to`` in epoch milliseconds."""
