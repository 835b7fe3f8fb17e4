"""Orchestration: Airflow environment, services and the task bodies the DAGs call."""
