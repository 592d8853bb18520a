/// <reference types="vitest/config" />
// Library build of one UMD file that Airflow's UI imports for the plugin's react_apps entry.
// React, React Router, Chakra UI and Emotion come from the host page (Airflow's UI sets them as globals),
// so the page shares Airflow's theme, dark mode and router, and the bundle stays small.
import react from "@vitejs/plugin-react";
import { resolve } from "node:path";
import { defineConfig } from "vite";

const HOST_GLOBALS: Record<string, string> = {
  react: "React",
  "react-dom": "ReactDOM",
  "react/jsx-runtime": "ReactJSXRuntime",
  "react-router-dom": "ReactRouterDOM",
  "@chakra-ui/react": "ChakraUI",
  "@emotion/react": "EmotionReact",
};

export default defineConfig({
  plugins: [react()],
  // the library build replaces process.env.NODE_ENV (bundled TanStack Query reads it); tests keep React's
  // development build, which has act()
  define: process.env.VITEST ? {} : { "process.env.NODE_ENV": JSON.stringify("production") },
  build: {
    outDir: resolve(__dirname, "../airflow_sync/www/dist"),
    emptyOutDir: false, // sources.sha256 is written beside the bundle after the build
    sourcemap: false,
    minify: true,
    lib: {
      entry: resolve(__dirname, "src/main.tsx"),
      name: "AirflowPlugin",
      formats: ["umd"],
      fileName: () => "sync-jobs.umd.cjs",
    },
    rollupOptions: {
      external: Object.keys(HOST_GLOBALS),
      output: { globals: HOST_GLOBALS },
    },
  },
  test: {
    environment: "happy-dom",
    // the API client resolves /api.rsc against the document's base, as under Airflow's <base href>
    environmentOptions: { happyDOM: { url: "http://airflow.test/" } },
    globals: false,
    include: ["src/**/*.test.{ts,tsx}"],
  },
});
