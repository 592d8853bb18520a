import { describe, expect, it } from "vitest";

import { ApiError } from "../api/client";
import {
  bodyFromForm, emptyForm, formFromJob, move, newQuery, problemsFrom, queryTexts, replicateFor,
} from "./jobForm";

const job = {
  JobName: "crm", JobId: "x", Source: "src", Destination: "dst", Status: "Successful", DagId: "sync__crm",
  CanUpdate: "True", CanRemove: "True", CanExecute: "True", Scheduled: "True", ScheduledCron: "0 2 * * *",
  BatchSize: "1000", "Query#2": "REPLICATE [b]", "Query#10": "REPLICATE [c]", "Query#1": "REPLICATE [a]",
} as never;

describe("job form", () => {
  it("reads queries in numeric order, not text order", () => {
    expect(queryTexts(job)).toEqual(["REPLICATE [a]", "REPLICATE [b]", "REPLICATE [c]"]);
  });

  it("round-trips a job into a create body with Query#1..n renumbered and blanks dropped", () => {
    const form = formFromJob(job);
    form.queries.splice(1, 0, newQuery("   "));
    const body = bodyFromForm(form, { create: true });
    expect(body.JobName).toBe("crm");
    expect(body.ScheduledCron).toBe("0 2 * * *");
    expect(Object.entries(body).filter(([k]) => k.startsWith("Query#"))).toEqual([
      ["Query#1", "REPLICATE [a]"], ["Query#2", "REPLICATE [b]"], ["Query#3", "REPLICATE [c]"],
    ]);
  });

  it("never sends JobName on modify and omits empty optional numbers", () => {
    const form = emptyForm();
    form.fields.JobName = "x";
    const body = bodyFromForm(form, { create: false });
    expect(body).not.toHaveProperty("JobName");
    expect(body).not.toHaveProperty("ReplicateInterval");
    expect(body.BatchSize).toBe("1000");
  });

  it("places server errors on their field, several at once when the API lists them", () => {
    const one = new ApiError(400, { code: "InvalidQuery", message: "Query#2: bad", target: "Query#2", position: 13 });
    expect(problemsFrom(one)).toEqual({ "Query#2": { message: "Query#2: bad", position: 13 } });
    const many = new ApiError(400, {
      code: "InvalidJob", message: "3 problems",
      details: [
        { code: "a", message: "Source: unknown", target: "Source", position: null },
        { code: "b", message: "no target", target: null, position: null },
        { code: "c", message: "Source: also", target: "Source", position: null },
      ],
    });
    expect(problemsFrom(many)).toEqual({
      Source: { message: "Source: unknown\nSource: also", position: undefined },
      "": { message: "no target", position: undefined },
    });
  });

  it("moves queries up and down and ignores moves past the ends", () => {
    expect(move([1, 2, 3], 2, 0)).toEqual([3, 1, 2]);
    expect(move([1, 2, 3], 0, -1)).toEqual([1, 2, 3]);
    expect(move([1, 2, 3], 2, 3)).toEqual([1, 2, 3]);
  });

  it("writes REPLICATE for picked tables, quoting brackets and reading other schemas by name", () => {
    expect(replicateFor("Orders")).toBe("REPLICATE [Orders]");
    expect(replicateFor("odd]name", "public")).toBe("REPLICATE [odd]]name]");
    expect(replicateFor("T", "sales")).toBe("REPLICATE [T] SELECT * FROM [sales].[T]");
    expect(replicateFor("T", "shop_db", true)).toBe("REPLICATE [T]");
  });
});
