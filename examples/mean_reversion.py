"""Recipe "Mean-reversion on AAPL with bracket exits" from the ctx.ibkr reference, verbatim.

Buys 10 AAPL when the last 15-minute close is 1 % under its 20-bar average and sells
them 2 % above it; fat-finger questions are suppressed at setup and auto-confirmed
otherwise. This is the worker ``ibkr demo`` drives through a simulated day and night.
"""


# The recipe is kept byte-for-byte as the reference prints it: do not reformat.
# fmt: off
def setup(ctx):
    ctx.ibkr.tickle()
    # Skip fat-finger prompts for the session
    ctx.ibkr.suppress_messages(["o163", "o451"])
    # Cache the conid
    res = ctx.ibkr.search_contract("AAPL", "STK")
    ctx.state.set("aapl_conid", int(res[0]["conid"]))
    ctx.state.set("account", ctx.ibkr.get_accounts()[0]["accountId"])

def tick(ctx):
    ctx.ibkr.tickle()
    conid = ctx.state.get("aapl_conid")
    acct = ctx.state.get("account")

    hist = ctx.ibkr.get_historical_data(conid=conid, period="1d", bar="15min")
    closes = [b["c"] for b in hist["data"]]
    if len(closes) < 20:
        return
    sma = sum(closes[-20:]) / 20
    last = closes[-1]

    pos = ctx.ibkr.get_positions(acct)
    has = any(p["conid"] == conid and p["position"] != 0 for p in pos)

    if last < sma * 0.99 and not has:
        r = ctx.ibkr.place_order(acct, conid, "BUY", 10, "MKT")
        ctx.log.info(f"BUY 10 AAPL @ {last:.2f} (SMA20 {sma:.2f})")
        # If IBKR asks for confirmation, auto-confirm
        if isinstance(r, list) and r and "message" in r[0]:
            ctx.ibkr.reply_to_order(r[0]["id"], confirmed=True)
    elif last > sma * 1.02 and has:
        ctx.ibkr.place_order(acct, conid, "SELL", 10, "MKT")
        ctx.log.info(f"SELL 10 AAPL @ {last:.2f}")
