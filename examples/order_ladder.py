"""Recipe "Working-order ladder around current price" from the ctx.ibkr reference, verbatim.

Every tick cancels its leftover working orders and re-quotes five BUY limit rungs
$0.50 apart under the last price. The ``time.sleep(0.4)`` between the snapshot pre-flight
and the real snapshot is a real sleep under ``ibkr run``; under virtual time (tests, the
demo) ``run_worker`` turns it into the clock's sleep while the tick runs.
"""


# ruff: noqa: E702, I001
# The recipe is kept byte-for-byte as the reference prints it: do not reformat.
# fmt: off
def setup(ctx):
    ctx.ibkr.tickle()
    ctx.ibkr.suppress_messages(["o163"])
    ctx.state.set("conid", 265598)
    ctx.state.set("account", ctx.ibkr.get_accounts()[0]["accountId"])

def tick(ctx):
    ctx.ibkr.tickle()
    conid = ctx.state.get("conid")
    acct = ctx.state.get("account")

    # Cancel any leftovers
    open_orders = ctx.ibkr.get_orders().get("orders", [])
    for o in open_orders:
        if o.get("conid") == conid and o.get("status") in ("PreSubmitted", "Submitted"):
            ctx.ibkr.cancel_order(acct, o["orderId"])

    # Re-quote: 5 buy rungs, $0.50 apart
    snap = ctx.ibkr.get_market_snapshot(conids=[conid])
    import time; time.sleep(0.4)
    snap = ctx.ibkr.get_market_snapshot(conids=[conid])
    if not snap or "31" not in snap[0]:
        return
    last = float(snap[0]["31"])

    for i in range(1, 6):
        ctx.ibkr.place_order(
            account_id=acct, conid=conid, side="BUY",
            quantity=10, order_type="LMT",
            price=round(last - i * 0.5, 2), tif="DAY",
        )
    ctx.log.info(f"Buy ladder placed below {last:.2f}")
