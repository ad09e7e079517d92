"""Allowed values of the domain's enumerated string fields (see shared DOMAIN.md).

They travel as Avro strings, not enums, so adding a channel or category later never breaks an
old reader; the intake validates them against these sets instead.
"""

CHANNELS = ("phone", "wechat", "mini_program", "app", "web", "store", "email")
CATEGORIES = (
    "product_quality",
    "service_attitude",
    "logistics",
    "price",
    "after_sales",
    "billing",
    "other",
)
PRIORITIES = ("urgent", "high", "normal", "low")
TIERS = ("vip", "regular", "new")
KINDS = ("complaint", "suggestion", "praise")
WORK_STATUSES = ("in_progress", "pending_customer", "on_hold")
SLA_METRICS = ("first_response", "next_response", "resolution")

VOCABULARY: dict[str, tuple[str, ...]] = {
    "channel": CHANNELS,
    "category": CATEGORIES,
    "priority": PRIORITIES,
    "customer_tier": TIERS,
    "kind": KINDS,
    "status": WORK_STATUSES,
    "metric": SLA_METRICS,
}
