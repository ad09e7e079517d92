"""Ticket lifecycle: the pure state machine and the Faust agent that runs it."""
