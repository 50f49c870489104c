"""The inference server: Open Inference Protocol v2 and MLflow-style scoring, micro-batching, traffic
routing (canary, A/B, shadow), hot swap, automatic rollback, Prometheus metrics and the prediction log.
"""
