"""Recipe "Multi-account daily NLV summary" from the ctx.ibkr reference, copied verbatim.

Logs every account's USD net liquidation value and reports the total as the
``ibkr_total_nlv`` metric. Run it with ``ibkr run examples/nlv_summary.py --gateway URL``.
"""


# The recipe is kept byte-for-byte as the reference prints it: do not reformat.
# fmt: off
def setup(ctx):
    ctx.ibkr.tickle()

def tick(ctx):
    accs = ctx.ibkr.get_accounts()
    total_usd = 0
    for a in accs:
        ledger = ctx.ibkr.get_ledger(a["accountId"])
        usd = ledger.get("USD", {})
        nlv = float(usd.get("netliquidationvalue", 0))
        total_usd += nlv
        ctx.log.info(f"{a['accountId']:10} NLV ${nlv:,.2f}")
    ctx.monitor.metric("ibkr_total_nlv", total_usd)
