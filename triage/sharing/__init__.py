"""Information sharing with partner agencies (DESIGN 11, issue 16): the sharing export.

A partner (an E-CINS case-sharing platform, say) receives, as JSON lines, the referrals whose
victim consented to share, that are not locked down or anonymised, in one of its areas; each
record written is audited. Partners are data: `routing_rules/partners.toml`.
"""
