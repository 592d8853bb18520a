# Airflow 3.3 image with airflow_sync installed from this repository (used by docker-compose.yml).
FROM apache/airflow:3.3.2-python3.11
USER airflow
COPY --chown=airflow:root pyproject.toml README.md /opt/airflow_sync/
COPY --chown=airflow:root airflow_sync /opt/airflow_sync/airflow_sync
COPY --chown=airflow:root dags/airflow_sync_jobs.py /opt/airflow/dags/airflow_sync_jobs.py
# Pin Airflow to the image's version so installing the provider never upgrades it. celery<5.7: the Celery
# provider (3.26) imports celery.backends.database.retry, which celery 5.7 removed.
RUN pip install --no-cache-dir "apache-airflow==3.3.2" "celery<5.7" "/opt/airflow_sync[postgres,mysql,celery,fab]"
