"""Outbound campaigns within the law.

Pure decision cores (no I/O, time passed in): attempts (the ledger's data), compliance (may we
dial, and when next), pacing + traffic (how many lines), retry (after an outcome), campaign and
settings (which debts, in which order), selection (the lawful picks), operators (the nailed-up
roster), breaker (a PBX or trunk that cannot place calls pauses the campaign). I/O edges:
ledger + tables (storage), leads (loading from crm_core), calls (one attempt over the Switch)
and service (the running dialer of one campaign); events on the bus.
"""
