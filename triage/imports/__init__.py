"""Referrals in bulk: the police feed (DESIGN 10), read by an adapter, stored as intake stores
one referral, with rejects by row and a summary."""
