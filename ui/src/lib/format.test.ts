import { describe, expect, it } from "vitest";

import { decodeLog, duration, isTrue, records } from "./format";
import { jobsFilter, orderBy, quote } from "./odata";
import { isActive, statusColor } from "./status";

describe("formatting", () => {
  it("durations", () => {
    expect(duration("2026-01-01T00:00:00Z", "2026-01-01T00:00:04Z")).toBe("4s");
    expect(duration("2026-01-01T00:00:00Z", "2026-01-01T00:02:05Z")).toBe("2m 05s");
    expect(duration("2026-01-01T00:00:00Z", "2026-01-01T01:02:03Z")).toBe("1h 02m 03s");
    expect(duration("2026-01-01T00:00:00Z", null, Date.parse("2026-01-01T00:00:09Z"))).toBe("9s");
    expect(duration(null, null)).toBe("—");
  });

  it("records, booleans and base64 UTF-8 logs", () => {
    expect(records("12345")).toBe((12345).toLocaleString());
    expect(records(null)).toBe("—");
    expect(isTrue("True") && isTrue(true) && !isTrue("False")).toBe(true);
    const b64 = btoa(String.fromCharCode(...new TextEncoder().encode("naïve ✓\nline 2")));
    expect(decodeLog(b64)).toBe("naïve ✓\nline 2");
  });

  it("OData filters quote what the user typed", () => {
    expect(quote("o'brien")).toBe("'o''brien'");
    expect(jobsFilter({ search: " crm ", status: "Failed", source: "pg" })).toBe(
      "contains(JobName,'crm') and Status eq 'Failed' and Source eq 'pg'",
    );
    expect(jobsFilter({})).toBeUndefined();
    expect(orderBy("LastRun", true)).toBe("LastRun desc");
  });

  it("status colours and activity in both vocabularies", () => {
    expect(statusColor("Successful")).toBe("green");
    expect(statusColor("FAILED")).toBe("red");
    expect(isActive("RUNNING") && isActive("Queued") && !isActive("Cancelled")).toBe(true);
  });
});
