// Entry of the UMD bundle: Airflow's UI imports it for the plugin's react_apps entry and renders the
// component exported as the global `AirflowPlugin`, inside its own router (route plugin/sync-jobs/*).
import { ChakraProvider, defaultSystem } from "@chakra-ui/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";

import { App } from "./App";

// Airflow re-mounts the plugin on every navigation (keyed by path): a module-level client keeps the cache,
// so going back to the list is instant and polling continues where it was.
const queryClient = new QueryClient({
  defaultOptions: { queries: { retry: 1, refetchOnWindowFocus: true, staleTime: 2_000 } },
});

declare global {
  // set by Airflow's UI: its Chakra system, so the page has Airflow's theme and dark mode
  var ChakraUISystem: typeof defaultSystem | undefined;
}

export default function SyncJobsPlugin() {
  return (
    <ChakraProvider value={globalThis.ChakraUISystem ?? defaultSystem}>
      <QueryClientProvider client={queryClient}>
        <App />
      </QueryClientProvider>
    </ChakraProvider>
  );
}
