"""The ClickHouse side: migrations, the Kafka → ClickHouse projector and the KPI report."""
