// The API's status words, shown as they are (the words are owned by the API: history/job status in
// CData's words, result rows in upper case). Only the colour is decided here.

export const HISTORY_STATUSES = ["Running", "Successful", "Failed", "Cancelled", "Queued", "Skipped", "Not Started"];

const PALETTE: Record<string, string> = {
  running: "blue",
  queued: "gray",
  successful: "green",
  success: "green",
  failed: "red",
  cancelled: "orange",
  skipped: "purple",
  "not started": "gray",
};

export const statusColor = (status: string | null | undefined): string =>
  PALETTE[(status ?? "").toLowerCase()] ?? "gray";

/** True while a run is under way, in either vocabulary (polling goes on while any row says so). */
export const isActive = (status: string | null | undefined): boolean =>
  ["running", "queued"].includes((status ?? "").toLowerCase());
