"""Operations: health and readiness endpoints, Prometheus metrics, structured logs, status."""
