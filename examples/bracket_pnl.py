"""A bracket on AAPL, watched through the account's P&L (the wider methods of issue 13).

When flat and without a working bracket, it buys 10 AAPL with a limit at the ask and two
exits attached: a take-profit 2 % above and a stop-loss 1 % below (children of the entry:
they work once it fills, and the first to fill cancels the other). Every tick it reports
the account's daily and unrealized P&L and the bracket's state by cOID.

Run it against the simulator: ``ibkr run examples/bracket_pnl.py --gateway URL``.
"""

import secrets

from ibkr_api.views import pnl_rows

AAPL = 265598
QUANTITY = 10
WORKING = ("PendingSubmit", "PreSubmitted", "Submitted")


def setup(ctx):
    ctx.ibkr.tickle()
    ctx.state.set("account", ctx.ibkr.get_accounts()[0]["accountId"])
    ctx.ibkr.get_market_snapshot(AAPL)  # market data first: no "no market data" question


def tick(ctx):
    ctx.ibkr.tickle()
    acct = ctx.state.get("account")

    rows = pnl_rows(ctx.ibkr.get_pnl())  # {} on the first answer of a session
    row = rows.get(acct)
    if row is not None:
        ctx.monitor.metric("ibkr_daily_pnl", row.daily_pnl or 0.0)
        ctx.monitor.metric("ibkr_unrealized_pnl", row.unrealized_pnl or 0.0)

    entry = ctx.state.get("bracket")
    if entry is not None:
        live = {o.get("order_ref"): o for o in ctx.ibkr.get_orders().get("orders", [])}
        coids = (entry, f"{entry}-tp", f"{entry}-sl")
        legs = {coid: live.get(coid, {}).get("status") for coid in coids}
        ctx.log.info(f"bracket {entry}: {legs}")
        if any(status in WORKING for status in legs.values()):
            return
        ctx.state.set("bracket", None)  # done: an exit filled (or everything was cancelled)

    held = sum(p["position"] for p in ctx.ibkr.get_position(acct, AAPL))
    if held:
        return
    quote = ctx.ibkr.get_market_snapshot(AAPL, [84, 86])
    ask = quote[0].get("86") if quote else None
    if ask is None:
        return
    price = round(float(str(ask).replace(",", "")), 2)
    entry = f"bracket-pnl-{secrets.token_hex(6)}"  # the exits get entry-tp / entry-sl
    answer = ctx.ibkr.place_bracket_order(
        acct,
        AAPL,
        "BUY",
        QUANTITY,
        price=price,
        take_profit=round(price * 1.02, 2),
        stop_loss=round(price * 0.99, 2),
        tif="DAY",
        coid=entry,
    )
    for _ in range(5):  # confirm IBKR's questions, chains included
        if not (isinstance(answer, list) and answer and "message" in answer[0]):
            break
        answer = ctx.ibkr.reply_to_order(answer[0]["id"], confirmed=True)
    ctx.state.set("bracket", entry)
    ctx.log.info(f"bracket {entry} placed at {price:.2f}: {answer}")
