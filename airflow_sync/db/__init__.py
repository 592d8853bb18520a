"""airflow_sync's own tables (API tokens): models, the provider db-manager and its Alembic migrations."""
