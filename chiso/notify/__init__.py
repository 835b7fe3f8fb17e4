"""Alerts to operators: e-mail over SMTP and webhooks, configured as Airflow connections."""
