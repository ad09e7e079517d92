"""complaintflow: event-sourced stream processing for customer-complaint management."""
