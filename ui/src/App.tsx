import { Box } from "@chakra-ui/react";
import { Route, Routes, useParams } from "react-router-dom";

import { JobEditor } from "./pages/JobEditor";
import { JobPage } from "./pages/JobPage";
import { JobsList } from "./pages/JobsList";
import { BaseContext } from "./lib/paths";

/** The app's pages under Airflow's plugin/<url_route>/ route. */
export function App() {
  const { page } = useParams();
  const base = `/plugin/${page ?? "sync-jobs"}`;
  return (
    <BaseContext.Provider value={base}>
      <Box p={4} minH="100%" overflow="auto" data-testid="sync-jobs-app">
        <Routes>
          <Route index element={<JobsList />} />
          <Route path="new" element={<JobEditor />} />
          <Route path="jobs/:name" element={<JobPage />} />
          <Route path="jobs/:name/edit" element={<JobEditor />} />
          <Route path="*" element={<JobsList />} />
        </Routes>
      </Box>
    </BaseContext.Provider>
  );
}
