# airflow_sync: this airflow DAG file generates one DAG per stored replication job.
# (The words "airflow" and "dag" must stay in this file: safe-mode DAG discovery skips files without them.)
from airflow_sync.dags.factory import generate

generate(globals())
