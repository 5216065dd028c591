"""Monitoring data the platform keeps about itself: logs, spans, time series, events."""
