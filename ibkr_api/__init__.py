"""The 19 ``ctx.ibkr`` endpoint methods on top of ``ibkr_session``."""
