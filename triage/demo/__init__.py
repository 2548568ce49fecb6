"""A realistic synthetic history in bulk, for `triage demo --referrals N` and benchmarks.

Referrals received over the last three years, each walked through the lifecycle by
`simulate` and written with every row the service would have written for it (referral,
audit events, contact attempts, assessment, offers, routing decisions, current Victims'
Code check lines), already folded into the reports' rollups (`report_cases`,
`report_counts`, `reported_version = version`). PostgreSQL gets COPY from worker processes,
each with its own connection; SQLite gets batched inserts (`fill`). Synthetic people only
(Faker en_GB, phone numbers in Ofcom's drama range).

`world` holds what every referral draws on, `draws` the proportions, `simulate` one
referral's history, `rows` the named row of each table, `tables` a chunk's rows and rollup
counts, `repository` the writing, `deferred` the indexes built after a large load.
"""

from triage.demo.fill import Added, add_history

__all__ = ["Added", "add_history"]
