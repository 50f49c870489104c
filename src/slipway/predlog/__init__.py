"""The prediction log: the contract between the writers (serving, batch scoring) and monitoring.

One row per scored row, written asynchronously in batches as Parquet files partitioned by deployment
and date; feedback labels arrive later and are joined on ``request_id`` (DESIGN.md, shared contracts).
"""
