// Where things are: this app's pages under Airflow's plugin route, and Airflow's own DAG/run/task pages.
import { createContext, useContext } from "react";

export const BaseContext = createContext("/plugin/sync-jobs");
export const useBase = () => useContext(BaseContext);

const enc = encodeURIComponent;

export const paths = {
  list: (base: string) => base,
  create: (base: string) => `${base}/new`,
  job: (base: string, name: string) => `${base}/jobs/${enc(name)}`,
  edit: (base: string, name: string) => `${base}/jobs/${enc(name)}/edit`,
};

/** Airflow's own pages (router paths, relative to the UI's base). */
export const airflow = {
  dag: (dagId: string) => `/dags/${enc(dagId)}`,
  run: (dagId: string, runId: string) => `/dags/${enc(dagId)}/runs/${enc(runId)}`,
  task: (dagId: string, runId: string, taskId: string) => `/dags/${enc(dagId)}/runs/${enc(runId)}/tasks/${enc(taskId)}`,
  connections: () => `/connections`,
};
