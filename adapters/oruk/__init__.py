"""Open Referral UK (HSDS 3, UK profile 3.0): the provider directory's reader."""
