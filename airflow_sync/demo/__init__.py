"""The local demo behind ``airflow-sync demo`` / ``make demo``: sample data, a demo job, and a launcher that
runs Airflow's components as separate background processes in ``.demo/``."""
