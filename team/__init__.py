"""The retention team's service (``churn-alert api``): alert inbox API, live dashboard,
actions and approvals, notifications, roles; its data in PostgreSQL, filled from
``churn-alerts``, ``retention-offers`` and the customer side topics."""
