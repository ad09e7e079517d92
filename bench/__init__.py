"""Benchmarks of complaintflow on the real local stack (Tansu + ClickHouse): see bench/README.md.

`python -m bench --size tiny|small|full [--only P1,P3]` (or `complaintflow bench`) runs them,
prints one table and writes it, with the machine's facts, to bench/results/<UTC time>.json.
"""
