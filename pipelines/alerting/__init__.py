"""Alerting domain logic, pure (no I/O): throttle and digest of alerts, surge-rule evaluation."""
